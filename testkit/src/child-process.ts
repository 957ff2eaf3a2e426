/**
 * The one way the kit runs a child process: output kept (bounded) for error messages, SIGKILLed if the test process
 * exits first, stopped with SIGTERM and a SIGKILL fallback so a stop never hangs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { sleep } from './sleep.js';

export interface TrackedChild {
  readonly child: ChildProcess;
  /** The last ~100 kB of stdout and stderr. */
  output(): string;
}

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Runs `command` through this, e.g. `['taskset', '-c', '0']` to pin it to a core. */
  commandPrefix?: readonly string[];
}

const OUTPUT_LIMIT = 200_000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Last resort: a test process (or Playwright worker, which ignores SIGINT and SIGTERM) ending before its cleanup ran
 * must not leave servers behind.
 */
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): TrackedChild {
  const [cmd, ...argv] = [...(options.commandPrefix ?? []), command, ...args];
  const child = spawn(cmd!, argv, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT / 2);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  // A spawn failure (ENOENT) arrives as 'error'; without a listener it would crash the test process.
  child.on('error', (error) => append(Buffer.from(`spawn ${command}: ${error.message}\n`)));
  return { child, output: () => output };
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Sends `signal` and resolves once the child has exited; SIGKILL after `graceMs`. A paused child is resumed first. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (signal !== 'SIGKILL') child.kill('SIGCONT'); // A stopped (SIGSTOP) process cannot handle SIGTERM.
  child.kill(signal);
  const fallback = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(fallback);
}

export interface WaitReadyOptions {
  /** What is starting, for the error message. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
}

/**
 * Polls `check` until it returns true; a throw counts as "not yet". Fails early (with the output) when the child
 * exits, and SIGKILLs the child when the deadline passes, so a failed start leaves nothing running.
 */
export async function waitReady(started: TrackedChild, check: () => Promise<boolean>, options: WaitReadyOptions): Promise<void> {
  const { child } = started;
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (hasExited(child)) {
      throw new Error(`${options.what} exited during startup (${child.exitCode ?? child.signalCode}):\n${started.output()}`);
    }
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.what} was not ready within ${options.timeoutMs} ms:\n${started.output()}`);
    }
    await sleep(options.intervalMs ?? 25);
  }
}
