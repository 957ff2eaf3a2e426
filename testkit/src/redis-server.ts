/**
 * A real `redis-server` child process for tests and benchmarks (never a mock): a free port on 127.0.0.1, a fresh
 * data directory, no persistence unless asked. The child is killed if the test process exits.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasExited, spawnTracked, stopChild, waitReady, type TrackedChild } from './child-process.js';
import { freePort } from './free-port.js';
import { retryOnPortTaken } from './port-retry.js';
import { assertRedisServerInstalled, pingRedis } from './redis-probe.js';

export interface RedisServerOptions {
  /**
   * Append-only file on (fsync always), so data survives kill() or terminate() and restart() (outage tests).
   * Default false.
   */
  persistence?: boolean;
  /** Written to `redis.conf` in the data directory and loaded first (Sentinel needs a config file it can rewrite). */
  config?: string;
  /** Appended to the command line, e.g. `['--replicaof', '127.0.0.1', '6379']` or `['--sentinel']`. */
  extraArgs?: readonly string[];
  /** Runs redis-server through this, e.g. `['taskset', '-c', '1']` (the bench pins it to a core). */
  commandPrefix?: readonly string[];
  /** How long a start may take before it fails. Default 10 s. */
  readyTimeoutMs?: number;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The running process's pid (undefined while stopped), to read its CPU time or memory from /proc. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** The last of its stdout and stderr. */
  output(): string;
  /** SIGSTOP: the server keeps its socket but answers nothing until resume(). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL, wait for exit; the data directory stays for restart(). */
  kill(): Promise<void>;
  /** SIGTERM (redis-server flushes its append-only file), wait for exit; the data directory stays for restart(). */
  terminate(): Promise<void>;
  /** Starts the server again on the same port and directory (terminating it first if it still runs). */
  restart(): Promise<void>;
  /** For good: SIGTERM, wait for exit, delete the data directory. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  assertRedisServerInstalled();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-redis-'));
  let port = 0;
  const configFile = join(dir, 'redis.conf');
  if (options.config !== undefined) writeFileSync(configFile, options.config);
  const args = () => [
    ...(options.config !== undefined ? [configFile] : []),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    ...(options.persistence ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    '--dir',
    dir,
    '--loglevel',
    'warning',
    ...(options.extraArgs ?? []),
  ];

  let current: TrackedChild | null = null;
  const launch = async (): Promise<void> => {
    const started = spawnTracked('redis-server', args(), { ...(options.commandPrefix ? { commandPrefix: options.commandPrefix } : {}) });
    current = started;
    await waitReady(started, () => pingRedis(port), { what: `redis-server on port ${port}`, timeoutMs: options.readyTimeoutMs ?? READY_TIMEOUT_MS });
  };
  const child = (): ChildProcess | undefined => current?.child;
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child();
    if (running) await stopChild(running, signal);
  };

  try {
    await retryOnPortTaken(async () => {
      port = await freePort();
      await launch();
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      const running = child();
      return running && !hasExited(running) ? running.pid : undefined;
    },
    get running() {
      const running = child();
      return !!running && !hasExited(running);
    },
    output: () => current?.output() ?? '',
    pause: () => void child()?.kill('SIGSTOP'),
    resume: () => void child()?.kill('SIGCONT'),
    kill: () => end('SIGKILL'),
    terminate: () => end('SIGTERM'),
    async restart() {
      await end('SIGTERM');
      await launch();
    },
    async stop() {
      await end('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
