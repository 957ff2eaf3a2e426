import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface Child {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function waitFor(check: () => Promise<boolean>, what: string, child: ChildProcess, log: () => string): Promise<void> {
  // Generous: on a loaded machine a demo process can take many seconds to start.
  const deadline = Date.now() + Number(process.env.BENCH_START_TIMEOUT_MS ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited early:\n${log()}`);
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not start:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * CPU pinning: servers under test on core 0, the load generator (this process) and Redis on core 1, so the scheduler
 * does not hand a variant's core to the load generator at random. Off with BENCH_PIN=0 or where taskset is missing.
 */
let pinning: boolean | undefined;
const PIN = () => (pinning ??= process.env.BENCH_PIN !== '0' && hasTaskset());

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function pinSelf(core: number): boolean {
  if (!PIN()) return false;
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
  return true;
}

function start(command: string, args: string[], env: Record<string, string>, core?: number): { child: ChildProcess; log: () => string } {
  let log = '';
  const [cmd, argv] = PIN() && core !== undefined ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];
  const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => void (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => void (log += d.toString()));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return { child, log: () => log };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
}

export async function startRedis(extraArgs: string[] = []): Promise<Child> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs];
  const { child, log } = start('redis-server', args, {}, 1);
  const { Redis } = await import('ioredis');
  await waitFor(
    async () => {
      const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined); // not up yet: waitFor tries again
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    },
    'redis-server',
    child,
    log,
  );
  return { url: `redis://127.0.0.1:${port}`, port, process: child, stop: stopper(child) };
}

/**
 * A local Redis Cluster of `masters` nodes (no replicas) made with `redis-cli --cluster create`; `url` is one seed.
 * (The test suites' harness, bff/test/helpers/redis-cluster.ts, assigns slots itself to start faster; the bench is a
 * compiled package that cannot import test code.)
 */
export async function startRedisCluster(masters: number): Promise<{ url: string; nodes: Child[]; stop(): Promise<void> }> {
  const nodes = await Promise.all(
    Array.from({ length: masters }, async () =>
      startRedis(['--cluster-enabled', 'yes', '--cluster-port', String(await freePort()), '--cluster-node-timeout', '2000']),
    ),
  );
  const stop = async () => void (await Promise.all(nodes.map((n) => n.stop())));
  try {
    execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'], { stdio: 'ignore' });
    const { Redis } = await import('ioredis');
    await waitFor(
      async () => {
        const infos = await Promise.all(
          nodes.map(async (n) => {
            const probe = new Redis({ port: n.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
            probe.on('error', () => undefined);
            try {
              await probe.connect();
              return String(await probe.call('CLUSTER', 'INFO'));
            } finally {
              probe.disconnect();
            }
          }),
        );
        return infos.every((info) => info.includes('cluster_state:ok'));
      },
      'redis cluster',
      nodes[0]!.process,
      () => '',
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: nodes[0]!.url, nodes, stop };
}

/** Starts a node script and waits until `readyPath` answers 200. */
export async function startNode(script: string, env: Record<string, string>, readyPath: string): Promise<Child> {
  const port = await freePort();
  const { child, log } = start(process.execPath, [script], { NODE_ENV: 'production', LATCHKEY_LOG_LEVEL: 'error', ...env, PORT: String(port) }, 0);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}${readyPath}`)).ok, script, child, log);
  return { url, port, process: child, stop: stopper(child) };
}
