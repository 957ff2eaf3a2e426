/**
 * A Node.js server script as a child process on a free port (PORT in its environment), ready once `readyPath`
 * answers 2xx. The demo launcher and the bench's targets build on this.
 */
import { hasExited, spawnTracked, stopChild, waitReady, type TrackedChild } from './child-process.js';
import { freePort } from './free-port.js';
import { retryOnPortTaken } from './port-retry.js';
import { sleep } from './sleep.js';

export interface NodeProcessOptions {
  /** The script `node` runs. */
  script: string;
  /** On top of this process's environment; PORT is set by the launcher. */
  env?: Record<string, string>;
  /** GET this path until it answers 2xx. */
  readyPath: string;
  /** A line the process must also have printed before it counts as ready (a documented readiness line). */
  readyLine?: string;
  /** The host of `url`. Default 127.0.0.1. */
  host?: string;
  /** Default: a free port. restart() keeps it, so a browser's origin and cookies stay valid. */
  port?: number;
  cwd?: string;
  /** Default 20 s; a loaded machine can take many seconds to start a process. */
  readyTimeoutMs?: number;
  /** Runs node through this, e.g. `['taskset', '-c', '0']`. */
  commandPrefix?: readonly string[];
  /** SIGKILL after this long when SIGTERM did not end it. Default 5 s. */
  stopGraceMs?: number;
}

export interface NodeProcess {
  readonly url: string;
  readonly port: number;
  /** The running process's pid (undefined while stopped). */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Everything it printed (bounded), across restarts. */
  output(): string;
  /** Resolves when the current process exits (at once if none runs). */
  exited(): Promise<void>;
  /** SIGTERM, wait for exit (SIGKILL after the grace time). Does nothing when it is not running. */
  stop(): Promise<void>;
  /** SIGKILL, wait for exit: a crash. */
  kill(): Promise<void>;
  /** Starts it again (same port, same environment) when it is not running. */
  start(): Promise<void>;
  /** stop(), then start(). */
  restart(): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;
const READY_LINE_GRACE_MS = 2_000;

export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  let port = options.port ?? 0;
  let url = '';
  const timeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  let current: TrackedChild | undefined;
  let earlier = '';
  const output = () => earlier + (current?.output() ?? '');
  const isRunning = () => !!current && !hasExited(current.child);

  const launch = async (): Promise<void> => {
    if (current) earlier = output();
    const started = spawnTracked(process.execPath, [options.script], {
      env: { ...process.env, ...options.env, PORT: String(port) },
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.commandPrefix ? { commandPrefix: options.commandPrefix } : {}),
    });
    current = started;
    const what = `${options.script} on port ${port}`;
    await waitReady(started, async () => (await fetch(`${url}${options.readyPath}`, { signal: AbortSignal.timeout(2_000) })).ok, {
      what,
      timeoutMs,
      intervalMs: 50,
    });
    if (options.readyLine === undefined) return;
    // stdout may trail the first answer by a moment; then insist, since the line is part of a contract.
    const until = Date.now() + READY_LINE_GRACE_MS;
    while (!started.output().includes(options.readyLine) && Date.now() < until) await sleep(25);
    if (!started.output().includes(options.readyLine)) {
      started.child.kill('SIGKILL');
      throw new Error(`${what} answers but never printed "${options.readyLine}":\n${started.output()}`);
    }
  };

  const first = async (): Promise<void> => {
    if (options.port === undefined) port = await freePort();
    url = `http://${options.host ?? '127.0.0.1'}:${port}`;
    await launch();
  };
  // A port of our own choosing may be taken between freePort() and the bind: choose again. A given port is tried once.
  await (options.port === undefined ? retryOnPortTaken(first) : first());

  return {
    url,
    port,
    get pid() {
      return isRunning() ? current!.child.pid : undefined;
    },
    get running() {
      return isRunning();
    },
    output,
    exited: () => (isRunning() ? new Promise<void>((resolve) => current!.child.once('exit', () => resolve())) : Promise.resolve()),
    stop: async () => {
      if (current) await stopChild(current.child, 'SIGTERM', options.stopGraceMs ?? 5_000);
    },
    kill: async () => {
      if (current) await stopChild(current.child, 'SIGKILL');
    },
    start: async () => {
      if (!isRunning()) await launch();
    },
    restart: async () => {
      if (current) await stopChild(current.child, 'SIGTERM', options.stopGraceMs ?? 5_000);
      await launch();
    },
  };
}
