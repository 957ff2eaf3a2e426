/**
 * Real processes for the browser suite: a `redis-server` and the compiled demo server (`examples/demo/dist/server.js`).
 * Nothing here is mocked. Every child is tracked and killed on teardown, and again (SIGKILL) when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from '../../bff/test/helpers/free-port.js';

export { freePort };

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEMO_SERVER = join(REPO_ROOT, 'examples/demo/dist/server.js');
export const WEB_DIST_INDEX = join(REPO_ROOT, 'examples/demo/web/dist/index.html');

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort: a worker ending before its afterAll hooks ran must not leave servers behind. (Playwright's
    // workers ignore SIGINT and SIGTERM and stop through the runner, so 'exit' is where they end.)
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. Resolves when it has exited. */
async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function collect(child: ChildProcess, sink: { log: string }): void {
  const append = (d: Buffer) => {
    sink.log += d.toString();
    // Bounded: a long run must not grow the test process without limit.
    if (sink.log.length > 200_000) sink.log = sink.log.slice(-100_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
}

// ---------------------------------------------------------------------------------------------------------------
// redis-server

export interface RedisOptions {
  /** appendonly yes (fsync always), so the data survives a restart of redis-server. */
  persistent?: boolean;
}

export class RedisProcess {
  readonly port: number;
  readonly url: string;
  private child: ChildProcess | undefined;
  private readonly dir: string;
  private readonly sink = { log: '' };

  private constructor(
    port: number,
    private readonly options: RedisOptions,
  ) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.dir = mkdtempSync(join(tmpdir(), 'latchkey-e2e-redis-'));
  }

  static async start(options: RedisOptions = {}): Promise<RedisProcess> {
    const redis = new RedisProcess(await freePort(), options);
    await redis.launch();
    return redis;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.sink.log;
  }

  private async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir];
    args.push(...(this.options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    track(child);
    collect(child, this.sink);
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    await Promise.race([spawnError, this.waitReady(child)]);
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server exited early:\n${this.sink.log}`);
      const client = new Redis(this.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      client.on('error', () => {});
      try {
        await client.connect();
        if ((await client.ping()) === 'PONG') return;
      } catch {
        // not listening yet, or still loading the append-only file
      } finally {
        client.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not start:\n${this.sink.log}`);
      await sleep(50);
    }
  }

  /** SIGSTOP: the server keeps its connections but answers nothing (a hung store), until resume(). */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** SIGTERM (redis-server flushes its append-only file), then wait for the exit. */
  async stop(): Promise<void> {
    this.resume();
    if (this.child) await stopChild(this.child);
  }

  /** Stops and starts again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The demo server

export interface DemoOptions {
  redisUrl: string;
  secret: string;
  accessTtlSeconds: number;
  /** Defaults to a free port; a restart keeps it (the browser's origin, cookie and page stay valid). */
  port?: number;
  /** LATCHKEY_ISSUER; defaults to this process's own http://localhost:<port>. One deployment shares one issuer. */
  issuer?: string;
  extraEnv?: Record<string, string>;
}

export class DemoProcess {
  readonly port: number;
  readonly url: string;
  private child: ChildProcess | undefined;
  private readonly sink = { log: '' };

  private constructor(private readonly options: DemoOptions & { port: number }) {
    this.port = options.port;
    this.url = `http://localhost:${options.port}`;
  }

  static async start(options: DemoOptions): Promise<DemoProcess> {
    if (!existsSync(DEMO_SERVER)) {
      throw new Error(`${DEMO_SERVER} is missing: build with \`npm run build\` (tsc -b) first`);
    }
    const demo = new DemoProcess({ ...options, port: options.port ?? (await freePort()) });
    await demo.launch();
    return demo;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.sink.log;
  }

  private async launch(): Promise<void> {
    const child = spawn(process.execPath, [DEMO_SERVER], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LATCHKEY_LOG_LEVEL: process.env.LATCHKEY_LOG_LEVEL ?? 'info',
        ...this.options.extraEnv,
        PORT: String(this.port),
        REDIS_URL: this.options.redisUrl,
        LATCHKEY_SECRET: this.options.secret,
        LATCHKEY_ACCESS_TTL: String(this.options.accessTtlSeconds),
        LATCHKEY_ISSUER: this.options.issuer ?? this.url,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    track(child);
    collect(child, this.sink);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`the demo server exited early (${child.exitCode ?? child.signalCode}):\n${this.sink.log}`);
      }
      try {
        const res = await fetch(`${this.url}/api/public`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the demo server did not answer GET /api/public within 20 s:\n${this.sink.log}`);
      }
      await sleep(50);
    }
    if (!this.sink.log.includes('Latchkey demo on http://localhost:')) {
      // The readiness line is part of the demo's contract (README); give stdout a moment, then insist.
      const until = Date.now() + 2_000;
      while (!this.sink.log.includes('Latchkey demo on http://localhost:') && Date.now() < until) await sleep(25);
      if (!this.sink.log.includes('Latchkey demo on http://localhost:')) {
        throw new Error(`the demo server answers but never printed "Latchkey demo on http://localhost:<port>":\n${this.sink.log}`);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child);
  }

  /** Stops the process and starts a new one on the same port with the same environment. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async start(): Promise<void> {
    if (!this.running) await this.launch();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Metrics

/** The sum of every series of one metric (0 when absent). */
export async function metricTotal(baseUrl: string, name: string): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  let total = 0;
  for (const line of (await res.text()).split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match && match[1] === name) total += Number(match[3]);
  }
  return total;
}

/** `latchkey_refreshes_total` by outcome, as one process serves it at /metrics. */
export async function refreshCounts(baseUrl: string): Promise<Record<string, number>> {
  const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  const text = await res.text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^latchkey_refreshes_total\{outcome="([^"]+)"\}\s+(\S+)$/gm)) {
    counts[match[1]!] = Number(match[2]);
  }
  return counts;
}

/** The difference between two readings of `refreshCounts`, zeros dropped; `total` sums every outcome. */
export function countDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  let total = 0;
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[key] ?? 0) - (before[key] ?? 0);
    if (d !== 0) delta[key] = d;
    total += d;
  }
  delta.total = total;
  return delta;
}
