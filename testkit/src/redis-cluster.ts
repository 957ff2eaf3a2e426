/**
 * Starts a real Redis Cluster for tests (never a mock): N masters (default 3) and optionally replicas, each a
 * `redis-server` child in cluster mode on free ports of 127.0.0.1 with a fresh data directory and no persistence.
 * Slots are assigned directly (CLUSTER ADDSLOTSRANGE + MEET + REPLICATE) instead of through interactive
 * `redis-cli --cluster create` (about 2 s instead of 3-4 s). The children are killed if the test process exits.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { hasExited, spawnTracked, stopChild, waitReady } from './child-process.js';
import { freePorts } from './free-port.js';
import { retryOnPortTaken } from './port-retry.js';
import { assertRedisServerInstalled, pingRedis } from './redis-probe.js';
import { sleep } from './sleep.js';

export interface RedisClusterOptions {
  /** Number of masters; the 16384 slots are split evenly between them. Default 3. */
  masters?: number;
  /**
   * Replicas per master, default 0. Each is one more node, started together with the masters and synced before
   * startRedisCluster() resolves, so a killed or paused master fails over to it (see waitForFailover()).
   */
  replicasPerMaster?: number;
  /** Runs every redis-server through this, e.g. `['taskset', '-c', '1']` (the bench pins Redis to a core). */
  commandPrefix?: readonly string[];
}

export interface RedisClusterNode {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  /** CLUSTER MYID: how CLUSTER NODES, CLUSTER REPLICATE and the other nodes name this one. */
  readonly id: string;
  /** The process's pid, to read its CPU time or memory from /proc. */
  readonly pid: number | undefined;
  /**
   * SIGSTOP: the node keeps its sockets but answers nothing until resume(). Once the node timeout (2 s) passes the
   * other masters mark it failed: with no replicas the whole cluster answers CLUSTERDOWN until it is resumed; with
   * replicas its replica is promoted (waitForFailover()), and when resumed it becomes that replica's replica.
   */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGKILL; resolves once the process has exited. Its port closes at once; stop() still cleans up after it. */
  kill(): Promise<void>;
}

export interface RedisCluster {
  /** The masters as started, in slot order (the first owns slot 0). A failover does not reorder them. */
  readonly nodes: readonly RedisClusterNode[];
  /**
   * The replicas as started, empty without replicasPerMaster; replicas[i] replicates nodes[i % nodes.length] (so with
   * one replica per master, replicas[i] is nodes[i]'s).
   */
  readonly replicas: readonly RedisClusterNode[];
  /** For `new Cluster(seeds)`: the masters as started. */
  readonly seeds: readonly { host: string; port: number }[];
  /** redis://127.0.0.1:<first port>, one seed. */
  readonly url: string;
  /** FLUSHALL on every node that is a master now and was not killed (between tests); replicas follow asynchronously. */
  flushAll(): Promise<void>;
  /**
   * After `dead` (one of nodes) was killed or paused: waits until one of its replicas has taken over its slots in the
   * view of every node still running (killed and paused ones are skipped) and each of those reports cluster_state:ok,
   * then returns the promoted replica. The failure detection alone takes the node timeout (2 s); expect about 3-4 s.
   */
  waitForFailover(dead: RedisClusterNode, timeoutMs?: number): Promise<RedisClusterNode>;
  /** SIGTERM every node (SIGCONT first, paused ones too), wait for them to exit, delete the data directories. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const SLOTS = 16384;
const READY_TIMEOUT_MS = 15_000;
/** stop() sends SIGKILL to a node that has not exited this long after SIGTERM, so it never hangs. */
const STOP_TIMEOUT_MS = 5_000;

interface RunningNode {
  port: number;
  busPort: number;
  child: ChildProcess;
  output: () => string;
  /** Set through the handle: a paused or killed node is skipped when waiting for a failover or flushing. */
  paused: boolean;
  killed: boolean;
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 1) throw new Error(`masters must be a positive integer, got ${masters}`);
  const replicasPerMaster = options.replicasPerMaster ?? 0;
  if (!Number.isInteger(replicasPerMaster) || replicasPerMaster < 0) {
    throw new Error(`replicasPerMaster must be a non-negative integer, got ${replicasPerMaster}`);
  }
  assertRedisServerInstalled();
  const total = masters * (1 + replicasPerMaster);
  const ports = await freePorts(total * 2);
  const root = mkdtempSync(join(tmpdir(), 'latchkey-redis-cluster-'));

  const children = new Set<ChildProcess>();
  const stopAll = async (): Promise<void> => {
    await Promise.all([...children].map((child) => stopChild(child, 'SIGTERM', STOP_TIMEOUT_MS)));
    children.clear();
    rmSync(root, { recursive: true, force: true });
  };

  const ranges = slotRanges(masters);
  let all: RunningNode[];
  let ids: string[];
  try {
    // All nodes start at once, replicas too: each needs its own ready wait, and serial starts would add up.
    all = await Promise.all(
      Array.from({ length: total }, (_, i) => {
        let attempt = 0;
        let [port, busPort] = [ports[2 * i]!, ports[2 * i + 1]!];
        return retryOnPortTaken(async () => {
          if (attempt++ > 0) {
            const fresh = await freePorts(2);
            [port, busPort] = [fresh[0]!, fresh[1]!];
          }
          return launchNode(join(root, `node-${i}-${attempt}`), port, busPort, children, options.commandPrefix);
        });
      }),
    );
    ids = await formCluster(all, masters, ranges);
  } catch (error) {
    await stopAll();
    throw error;
  }

  const handles = all.map<RedisClusterNode>((node, i) => ({
    host: HOST,
    port: node.port,
    url: `redis://${HOST}:${node.port}`,
    id: ids[i]!,
    get pid() {
      return hasExited(node.child) ? undefined : node.child.pid;
    },
    pause: () => {
      node.paused = true;
      node.child.kill('SIGSTOP');
    },
    resume: () => {
      node.paused = false;
      node.child.kill('SIGCONT');
    },
    kill: async () => {
      node.killed = true;
      await stopChild(node.child, 'SIGKILL');
    },
  }));
  const masterHandles = handles.slice(0, masters);

  return {
    nodes: masterHandles,
    replicas: handles.slice(masters),
    seeds: masterHandles.map(({ host, port }) => ({ host, port })),
    url: handles[0]!.url,
    async flushAll() {
      // Asking ROLE first: after a failover a started-as-master may be a replica now (FLUSHALL there is READONLY).
      const targets = all.filter((node) => !node.killed && !hasExited(node.child));
      await withClients(targets, (clients) =>
        Promise.all(
          clients.map(async (client) => {
            const [role] = (await client.role()) as [string];
            if (role === 'master') await client.flushall();
          }),
        ),
      );
    },
    async waitForFailover(dead, timeoutMs = 20_000) {
      const index = masterHandles.indexOf(dead);
      if (index < 0) throw new Error(`waitForFailover() takes one of the cluster's nodes (masters), got port ${dead.port}`);
      // replicas[k] replicates nodes[k % masters]; any of this master's replicas may win the election.
      const candidates = handles.slice(masters).filter((_, k) => k % masters === index);
      if (candidates.length === 0) throw new Error('waitForFailover() needs a cluster started with replicasPerMaster >= 1');
      const live = all.filter(isLive);
      return waitForPromotion(live, candidates, ranges[index]!, dead.port, timeoutMs);
    },
    stop: stopAll,
  };
}

async function launchNode(
  dir: string,
  port: number,
  busPort: number,
  children: Set<ChildProcess>,
  commandPrefix: readonly string[] | undefined,
): Promise<RunningNode> {
  mkdirSync(dir);
  const args = [
    '--port',
    String(port),
    // Redis 7: an explicit bus port, so it is free too (port + 10000 may be taken or out of range).
    '--cluster-port',
    String(busPort),
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    '2000',
    // A replica may always fail over, however long ago it last heard from its master (the default refuses after
    // node timeout x 10 + 10 s without contact, which a test that pauses a master for a while could hit).
    '--cluster-replica-validity-factor',
    '0',
    // The initial sync of a replica streams the RDB at once instead of waiting 5 s for more replicas to join.
    '--repl-diskless-sync',
    'yes',
    '--repl-diskless-sync-delay',
    '0',
    // SIGTERM exits at once instead of waiting up to 10 s for lagging replicas (which stop() may be ending too).
    '--shutdown-timeout',
    '0',
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--loglevel',
    'warning',
  ];
  const started = spawnTracked('redis-server', args, { ...(commandPrefix ? { commandPrefix } : {}) });
  children.add(started.child);
  await waitReady(started, () => pingRedis(port), { what: `redis-server on port ${port}`, timeoutMs: READY_TIMEOUT_MS });
  return { port, busPort, child: started.child, output: started.output, paused: false, killed: false };
}

/**
 * What `redis-cli --cluster create --cluster-replicas N` does, minus prompts: distinct config epochs for the masters
 * (so no epoch-collision round is needed), one slot range per master, every node meets every other, each replica
 * replicates its master, then wait until every node agrees and every replica is synced. Returns the node ids.
 * Takes about 2 s however fast the nodes agree: a fresh master stays `cluster_state:fail` for 2 s after it starts
 * (CLUSTER_WRITABLE_DELAY, hard-coded in redis-server); replicas join and sync within that time.
 */
async function formCluster(nodes: RunningNode[], masters: number, ranges: [number, number][]): Promise<string[]> {
  return withClients(nodes, async (clients) => {
    const ids = await Promise.all(clients.map(async (client) => String(await client.call('CLUSTER', ['MYID']))));
    await Promise.all(
      clients.slice(0, masters).map(async (client, i) => {
        await client.call('CLUSTER', ['SET-CONFIG-EPOCH', i + 1]);
        await client.call('CLUSTER', ['ADDSLOTSRANGE', ranges[i]![0], ranges[i]![1]]);
      }),
    );
    // Every pair meets directly: meeting only the first node leaves the rest to gossip, and that sometimes took a
    // second longer. The bus port must be given: MEET would otherwise assume port + 10000.
    await Promise.all(clients.flatMap((client, i) => nodes.slice(i + 1).map((other) => client.call('CLUSTER', ['MEET', HOST, other.port, other.busPort]))));
    await Promise.all(clients.slice(masters).map((client, k) => replicate(client, nodes[masters + k]!, ids[k % masters]!)));
    await waitForClusterOk(nodes, clients, ids, masters);
    return ids;
  });
}

/** CLUSTER REPLICATE answers "Unknown node" until the MEET handshake with the master is done (~100 ms): retried. */
async function replicate(client: Redis, node: RunningNode, masterId: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    try {
      await client.call('CLUSTER', ['REPLICATE', masterId]);
      return;
    } catch (error) {
      if (!/Unknown node/i.test(String(error)) || Date.now() > deadline) {
        throw new Error(`CLUSTER REPLICATE ${masterId} on port ${node.port} failed: ${String(error)}\n${node.output()}`, { cause: error });
      }
    }
    await sleep(25);
  }
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

/**
 * Every node: cluster_state:ok and knows all nodes. With replicas also: each replica's link to its master is up, and
 * every node sees each replica as its master's replica (a master votes in a failover election only for a node it
 * knows to be a replica of the failed master, so a failover right after startup needs this).
 */
async function waitForClusterOk(nodes: RunningNode[], clients: Redis[], ids: string[], masters: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let infos: string[] = [];
  let replications: string[] = [];
  let views: string[];
  const replicaIds = ids.slice(masters);
  while (Date.now() < deadline) {
    [infos, replications, views] = await Promise.all([
      Promise.all(clients.map((client) => client.cluster('INFO'))),
      Promise.all(clients.slice(masters).map((client) => client.info('replication'))),
      replicaIds.length > 0 ? Promise.all(clients.map(clusterNodes)) : [],
    ]);
    const ready =
      infos.every((info) => /^cluster_state:ok\r?$/m.test(info) && new RegExp(`^cluster_known_nodes:${nodes.length}\\r?$`, 'm').test(info)) &&
      replications.every((info) => /^master_link_status:up\r?$/m.test(info)) &&
      views.every((view) => replicaIds.every((id, k) => replicaOf(view, id) === ids[k % masters]));
    if (ready) return;
    await sleep(50);
  }
  const dumps = await Promise.all(
    clients.map(async (client, i) => {
      const clusterNodes = await client.cluster('NODES').catch((error: unknown) => String(error));
      const replication = i >= masters ? `${replications[i - masters] ?? ''}\n` : '';
      return `--- node ${nodes[i]!.port} (bus ${nodes[i]!.busPort})\n${infos[i] ?? ''}\n${replication}${clusterNodes}\n${nodes[i]!.output()}`;
    }),
  );
  throw new Error(`redis cluster not ok on every node within ${READY_TIMEOUT_MS} ms:\n${dumps.join('\n')}`);
}

/** Polls every live node until one candidate owns `range` in all their views and all report cluster_state:ok. */
async function waitForPromotion(
  live: RunningNode[],
  candidates: RedisClusterNode[],
  [first, last]: [number, number],
  deadPort: number,
  timeoutMs: number,
): Promise<RedisClusterNode> {
  return withClients(live, async (clients) => {
    const deadline = Date.now() + timeoutMs;
    let infos: string[] = [];
    let views: string[] = [];
    while (Date.now() < deadline) {
      // A node that errors (loading, busy) just is not ready yet.
      [infos, views] = await Promise.all([
        Promise.all(clients.map((client) => client.cluster('INFO').catch((error: unknown) => String(error)))),
        Promise.all(clients.map((client) => clusterNodes(client).catch((error: unknown) => String(error)))),
      ]);
      // The state alone is not enough: for the first 2 s after the kill every node still reports ok.
      const promoted = candidates.find((candidate) => views.every((view) => ownsRange(view, candidate.id, first, last)));
      if (promoted && infos.every((info) => /^cluster_state:ok\r?$/m.test(info))) return promoted;
      await sleep(50);
    }
    const dumps = live.map((node, i) => `--- node ${node.port} (bus ${node.busPort})\n${infos[i] ?? ''}\n${views[i] ?? ''}\n${node.output()}`);
    throw new Error(
      `redis cluster did not fail over from ${deadPort} (slots ${first}-${last}) to ${candidates.map((c) => c.port).join(' or ')} within ${timeoutMs} ms:\n${dumps.join('\n')}`,
    );
  });
}

/** ioredis types CLUSTER NODES as unknown; it is one bulk string. */
async function clusterNodes(client: Redis): Promise<string> {
  return String(await client.cluster('NODES'));
}

/** CLUSTER NODES lines: `<id> <ip:port@bus> <flags> <master id or -> <ping> <pong> <epoch> <link> <slots...>`. */
function nodeLine(view: string, id: string): string[] | undefined {
  return view
    .split('\n')
    .map((line) => line.trim().split(' '))
    .find((fields) => fields[0] === id);
}

function replicaOf(view: string, id: string): string | undefined {
  const fields = nodeLine(view, id);
  return fields && fields[2]!.split(',').includes('slave') ? fields[3] : undefined;
}

function ownsRange(view: string, id: string, first: number, last: number): boolean {
  const fields = nodeLine(view, id);
  if (!fields || !fields[2]!.split(',').includes('master')) return false;
  const range = first === last ? String(first) : `${first}-${last}`;
  return fields.slice(8).includes(range);
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

function isLive(node: RunningNode): boolean {
  return !node.paused && !node.killed && !hasExited(node.child);
}
