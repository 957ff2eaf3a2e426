/**
 * The soak's memory and metrics samples: each demo process's RSS (/proc/<pid>/status VmRSS, falling back to the
 * demo's `demo_process_resident_memory_bytes`), heap, revocation-view entries and theft counter from /metrics; and
 * Redis `used_memory`, DBSIZE, the length of the shards' revocation logs and the keys by kind, summed over the nodes.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { fetchMetrics, metricSum } from '@latchkey/testkit';
import type { Proc } from './soak-http.js';

export interface ProcessSample {
  rssBytes: number | null;
  heapUsedBytes: number | null;
  viewEntries: number | null;
  theftDetections: number | null;
  /** user + system CPU seconds so far (/proc/<pid>/stat). */
  cpuSeconds: number | null;
  /** Largest event-loop delay since the previous scrape (prom-client resets its histogram on each collect). */
  eventLoopLagMaxMs: number | null;
}

export interface Sample {
  phase: string;
  atSeconds: number;
  processes: Record<string, ProcessSample>;
  redis: {
    usedMemory: number;
    dbsize: number;
    /** XLEN of the log, and how many of its entries could still reject a token (expiry field `x` in the future). */
    revocationLogLength: number;
    revocationLogLive: number;
    keys: Record<string, number>;
    cpuSeconds: number | null;
  };
}

/** /metrics of one process, or null when it does not answer (a sample records the gap rather than failing). */
export async function fetchProcessMetrics(proc: Proc): Promise<string | null> {
  return fetchMetrics(proc.url).catch(() => null);
}

/** utime + stime of a process, in seconds (clock ticks of 1/100 s, as on Linux). */
export function procCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

function procRss(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Keys by kind (prefix `lk:`, then the shard's hash tag; see bff/src/store/redis-keys.ts). */
function keyKind(key: string): string {
  const k = key.replace(/^lk:/, '').replace(/^\{[^}]*\}/, '');
  if (k.startsWith('s:')) return 'session';
  if (k.startsWith('sid:')) return 'sid index';
  if (k.startsWith('ts:')) return 'tombstone';
  if (k.startsWith('u:')) return 'user index';
  if (k === 'rv') return 'revocation log';
  if (k.startsWith('ru:')) return 'user revoked_after';
  if (k.startsWith('kr:')) return 'key ring';
  if (k.startsWith('rl:')) return 'rate limit';
  return 'other';
}

async function keysByKind(redis: Redis): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) out[keyKind(key)] = (out[keyKind(key)] ?? 0) + 1;
  } while (cursor !== '0');
  return out;
}

/** A shard's revocation log (`lk:{<tag>}rv`, see bff/src/store/redis-keys.ts). */
const LOG_KEY = /^lk:\{[^}]*\}rv$/;

/**
 * `nodes`: a direct connection to every Redis node (one for a single Redis, each master of a Cluster); memory, keys
 * and the shards' logs are summed over them.
 */
export async function takeSample(phase: string, atSeconds: number, procs: Proc[], nodes: Redis[], redisPids: number[]): Promise<Sample> {
  const processes: Record<string, ProcessSample> = {};
  await Promise.all(
    procs.map(async (p) => {
      const text = await fetchProcessMetrics(p);
      processes[p.name] = {
        rssBytes: procRss(p.pid) ?? (text ? metricSum(text, 'demo_process_resident_memory_bytes') : null),
        heapUsedBytes: text ? metricSum(text, 'demo_nodejs_heap_size_used_bytes') : null,
        viewEntries: text ? metricSum(text, 'latchkey_revocation_view_entries') : null,
        theftDetections: text ? metricSum(text, 'latchkey_theft_detections_total') : null,
        cpuSeconds: procCpuSeconds(p.pid),
        eventLoopLagMaxMs: text ? (metricSum(text, 'demo_nodejs_eventloop_lag_max_seconds') ?? NaN) * 1000 : null,
      };
    }),
  );
  const perNode = await Promise.all(nodes.map((node) => sampleNode(node)));
  const keys: Record<string, number> = {};
  for (const n of perNode) for (const [kind, count] of Object.entries(n.keys)) keys[kind] = (keys[kind] ?? 0) + count;
  const sum = (pick: (n: (typeof perNode)[number]) => number) => perNode.reduce((total, n) => total + pick(n), 0);
  const cpu = redisPids.map(procCpuSeconds);
  return {
    phase,
    atSeconds,
    processes,
    redis: {
      usedMemory: sum((n) => n.usedMemory),
      dbsize: sum((n) => n.dbsize),
      revocationLogLength: sum((n) => n.logLength),
      revocationLogLive: sum((n) => n.logLive),
      keys: Object.fromEntries(Object.entries(keys).sort(([x], [y]) => x.localeCompare(y))),
      cpuSeconds: cpu.some((c) => c === null) ? null : cpu.reduce((total, c) => total! + c!, 0),
    },
  };
}

async function sampleNode(redis: Redis) {
  const info = await redis.info('memory');
  const usedMemory = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
  const dbsize = await redis.dbsize();
  const logs: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', 'lk:{*}rv', 'COUNT', 1000);
    cursor = next;
    logs.push(...found.filter((k) => LOG_KEY.test(k)));
  } while (cursor !== '0');
  let logLength = 0;
  let logLive = 0;
  const now = Date.now();
  for (const log of logs) {
    for (const [, fields] of await redis.xrange(log, '-', '+')) {
      logLength++;
      const i = fields.indexOf('x');
      const kind = fields[fields.indexOf('k') + 1];
      // Key-ring events only wake followers (they live 10 min); jti, sid and user entries reject tokens.
      if (kind !== 'keyring' && i >= 0 && i % 2 === 0 && Number(fields[i + 1]) > now) logLive++;
    }
  }
  return { usedMemory, dbsize, logLength, logLive, keys: await keysByKind(redis) };
}
