/**
 * Starts a real Redis Cluster for tests (never a mock): N masters (default 3, no replicas), each a `redis-server`
 * child in cluster mode on free ports of 127.0.0.1 with a fresh data directory and no persistence. Slots are assigned
 * directly (CLUSTER ADDSLOTSRANGE + MEET) instead of through interactive `redis-cli --cluster create`. The children are
 * killed if the test process exits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';

export interface RedisClusterOptions {
  /** Number of masters; the 16384 slots are split evenly between them. Default 3. */
  masters?: number;
}

export interface RedisClusterNode {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /**
   * SIGSTOP: the node keeps its sockets but answers nothing until resume(). With no replicas, once the node timeout
   * (2 s) passes the other masters mark it failed and the whole cluster answers CLUSTERDOWN until it is resumed.
   */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
}

export interface RedisCluster {
  /** The masters, in slot order (the first owns slot 0). */
  readonly nodes: readonly RedisClusterNode[];
  /** For `new Cluster(seeds)`. */
  readonly seeds: readonly { host: string; port: number }[];
  /** redis://127.0.0.1:<first port>, one seed. */
  readonly url: string;
  /** FLUSHALL on every master (between tests). */
  flushAll(): Promise<void>;
  /** SIGTERM every node, wait for them to exit, delete the data directories. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const SLOTS = 16384;
const READY_TIMEOUT_MS = 15_000;
const INSTALL_HINT = 'redis-server is not on PATH; install it with `apt-get install -y redis-server`';

interface RunningNode {
  port: number;
  busPort: number;
  child: ChildProcess;
  output: () => string;
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 1) throw new Error(`masters must be a positive integer, got ${masters}`);
  assertRedisServerInstalled();
  const ports = await distinctFreePorts(masters * 2);
  const root = mkdtempSync(join(tmpdir(), 'latchkey-redis-cluster-'));

  const children = new Set<ChildProcess>();
  const killOnExit = () => children.forEach((child) => child.kill('SIGKILL'));
  process.on('exit', killOnExit);

  const stopAll = async (): Promise<void> => {
    await Promise.all([...children].map(terminate));
    children.clear();
    process.off('exit', killOnExit);
    rmSync(root, { recursive: true, force: true });
  };

  let nodes: RunningNode[];
  try {
    // All nodes start at once: each needs its own ready wait, and serial starts would add up.
    nodes = await Promise.all(
      Array.from({ length: masters }, (_, i) =>
        launchNode(join(root, `node-${i}`), ports[2 * i]!, ports[2 * i + 1]!, children),
      ),
    );
    await formCluster(nodes);
  } catch (error) {
    await stopAll();
    throw error;
  }

  const handles = nodes.map<RedisClusterNode>(({ port, child }) => ({
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
  }));

  return {
    nodes: handles,
    seeds: handles.map(({ host, port }) => ({ host, port })),
    url: handles[0]!.url,
    async flushAll() {
      await withClients(nodes, (clients) => Promise.all(clients.map((client) => client.flushall())));
    },
    stop: stopAll,
  };
}

function assertRedisServerInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (probe.error) throw new Error(INSTALL_HINT, { cause: probe.error });
}

/** freePort() can hand out a port it handed out a moment ago, and two nodes must never share one. */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function launchNode(dir: string, port: number, busPort: number, children: Set<ChildProcess>): Promise<RunningNode> {
  mkdirSync(dir);
  const args = [
    '--port', String(port),
    // Redis 7: an explicit bus port, so it is free too (port + 10000 may be taken or out of range).
    '--cluster-port', String(busPort),
    '--cluster-enabled', 'yes',
    '--cluster-config-file', 'nodes.conf',
    '--cluster-node-timeout', '2000',
    '--bind', HOST,
    '--save', '',
    '--appendonly', 'no',
    '--dir', dir,
    '--loglevel', 'warning',
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const node = { port, busPort, child, output: () => output };
  await waitForPing(node);
  return node;
}

/** Polls PING until the node answers; fails early if the child exits. */
async function waitForPing(node: RunningNode): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (node.child.exitCode !== null || node.child.signalCode !== null) {
      throw new Error(`redis-server on port ${node.port} exited during startup (${node.child.exitCode ?? node.child.signalCode}):\n${node.output()}`);
    }
    if (await pingOnce(node.port)) return;
    await sleep(25);
  }
  throw new Error(`redis-server on port ${node.port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${node.output()}`);
}

async function pingOnce(port: number): Promise<boolean> {
  const client = new Redis({ host: HOST, port, lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {}); // Refused connections are expected until the server listens.
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * What `redis-cli --cluster create` does, minus replicas and prompts: distinct config epochs (so no epoch-collision
 * round is needed), one slot range per node, every node meets every other, then wait until every node agrees.
 * Takes about 2 s however fast the nodes agree: a fresh master stays `cluster_state:fail` for 2 s after it starts
 * (CLUSTER_WRITABLE_DELAY, hard-coded in redis-server).
 */
async function formCluster(nodes: RunningNode[]): Promise<void> {
  await withClients(nodes, async (clients) => {
    const ranges = slotRanges(nodes.length);
    await Promise.all(
      clients.map(async (client, i) => {
        await client.call('CLUSTER', ['SET-CONFIG-EPOCH', i + 1]);
        await client.call('CLUSTER', ['ADDSLOTSRANGE', ranges[i]![0], ranges[i]![1]]);
      }),
    );
    // Every pair meets directly: meeting only the first node leaves the rest to gossip, and that sometimes took a
    // second longer. The bus port must be given: MEET would otherwise assume port + 10000.
    await Promise.all(
      clients.flatMap((client, i) =>
        nodes.slice(i + 1).map((other) => client.call('CLUSTER', ['MEET', HOST, other.port, other.busPort])),
      ),
    );
    await waitForClusterOk(nodes, clients);
  });
}

/** redis-cli's split: 3 masters get 0-5460, 5461-10922, 10923-16383. */
function slotRanges(count: number): [number, number][] {
  const perNode = SLOTS / count;
  const ranges: [number, number][] = [];
  let first = 0;
  for (let i = 0; i < count; i++) {
    const last = i === count - 1 ? SLOTS - 1 : Math.round(perNode * (i + 1) - 1);
    ranges.push([first, last]);
    first = last + 1;
  }
  return ranges;
}

async function waitForClusterOk(nodes: RunningNode[], clients: Redis[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let infos: string[] = [];
  while (Date.now() < deadline) {
    infos = await Promise.all(clients.map((client) => client.cluster('INFO')));
    const ready = infos.every(
      (info) => /^cluster_state:ok\r?$/m.test(info) && new RegExp(`^cluster_known_nodes:${nodes.length}\\r?$`, 'm').test(info),
    );
    if (ready) return;
    await sleep(50);
  }
  const views = await Promise.all(
    clients.map(async (client, i) => {
      const clusterNodes = await client.cluster('NODES').catch((error: unknown) => String(error));
      return `--- node ${nodes[i]!.port} (bus ${nodes[i]!.busPort})\n${infos[i] ?? ''}\n${clusterNodes}\n${nodes[i]!.output()}`;
    }),
  );
  throw new Error(`redis cluster not ok on every node within ${READY_TIMEOUT_MS} ms:\n${views.join('\n')}`);
}

/** One plain connection per node for the duration of `use`. */
async function withClients<T>(nodes: RunningNode[], use: (clients: Redis[]) => Promise<T>): Promise<T> {
  const clients = nodes.map(({ port }) => new Redis({ host: HOST, port, lazyConnect: true, commandTimeout: 5000, maxRetriesPerRequest: 0 }));
  try {
    await Promise.all(clients.map((client) => client.connect()));
    return await use(clients);
  } finally {
    clients.forEach((client) => client.disconnect());
  }
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT'); // A paused server cannot handle SIGTERM.
  child.kill('SIGTERM');
  await exited;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
