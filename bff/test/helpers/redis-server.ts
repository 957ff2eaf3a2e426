/**
 * Starts a real `redis-server` child process for tests (never a mock): a free port on 127.0.0.1,
 * a fresh data directory, no persistence unless asked. The child is killed if the test process exits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface RedisServerOptions {
  /** Append-only file on, so data survives kill() + restart() (for outage tests). Default false. */
  persistence?: boolean;
  /** Written to `redis.conf` in the data directory and loaded first (Sentinel needs a config file it can rewrite). */
  config?: string;
  /** Appended to the command line, e.g. `['--replicaof', '127.0.0.1', '6379']` or `['--sentinel']`. */
  extraArgs?: string[];
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** SIGTERM, wait for exit, delete the data directory. */
  stop(): Promise<void>;
  /** SIGSTOP: the server keeps its socket but answers nothing until resume(). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL, wait for exit; the data directory stays for restart(). */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory (stopping it first if it still runs). */
  restart(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const INSTALL_HINT = 'redis-server is not on PATH; install it with `apt-get install -y redis-server`';

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  assertRedisServerInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-redis-'));
  const port = await freePort();
  const configFile = join(dir, 'redis.conf');
  if (options.config !== undefined) writeFileSync(configFile, options.config);
  const args = [
    ...(options.config !== undefined ? [configFile] : []),
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', options.persistence ? 'yes' : 'no',
    '--dir', dir,
    '--loglevel', 'warning',
    ...(options.extraArgs ?? []),
  ];

  let child: ChildProcess | null = null;
  const killOnExit = () => child?.kill('SIGKILL');
  process.on('exit', killOnExit);

  const launch = async (): Promise<void> => {
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    started.stdout?.on('data', collect);
    started.stderr?.on('data', collect);
    await waitForPing(port, started, () => output);
  };

  const waitForExit = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    if (signal !== 'SIGKILL') running.kill('SIGCONT'); // A paused server cannot handle SIGTERM.
    running.kill(signal);
    await exited;
  };

  await launch();

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await waitForExit('SIGTERM');
      process.off('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async kill() {
      await waitForExit('SIGKILL');
    },
    async restart() {
      await waitForExit('SIGTERM');
      await launch();
    },
  };
}

function assertRedisServerInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (probe.error) throw new Error(INSTALL_HINT, { cause: probe.error });
}


/** Polls with a raw PING until the server answers PONG; fails early if the child exits. */
async function waitForPing(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited during startup (${child.exitCode ?? child.signalCode}):\n${output()}`);
    }
    if (await pingOnce(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${output()}`);
}

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}
