/**
 * The bench's processes, started by the test kit with the bench's settings: production mode, quiet logs, a generous
 * start timeout (on a loaded machine a demo process can take many seconds to start), and CPU pinning: servers under
 * test on core 0, the load generator (this process) and Redis on core 1, so the scheduler does not hand a variant's
 * core to the load generator at random. Pinning is off with BENCH_PIN=0 or where taskset is missing.
 */
import { execFileSync } from 'node:child_process';
import {
  startNodeProcess,
  startRedisCluster,
  startRedisServer,
  TEST_METRICS_TOKEN,
  type NodeProcess,
  type RedisCluster,
  type RedisServer,
} from '@latchkey/testkit';

const START_TIMEOUT_MS = () => Number(process.env.BENCH_START_TIMEOUT_MS ?? 60_000);
const SERVER_CORE = 0;
const LOAD_CORE = 1;

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

/** `taskset -c <core>` for a child, when pinning. */
function pinnedTo(core: number): { commandPrefix?: string[] } {
  return PIN() ? { commandPrefix: ['taskset', '-c', String(core)] } : {};
}

/** Pins this process (the load generator) to the load core; false when pinning is off. */
export function pinSelf(core = LOAD_CORE): boolean {
  if (!PIN()) return false;
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' });
  return true;
}

/** A server script (a bench target or a demo build) on a free port, ready once `readyPath` answers 200. */
export function startNode(script: string, env: Record<string, string>, readyPath: string): Promise<NodeProcess> {
  return startNodeProcess({
    script,
    // A demo's /metrics is closed without a token: the one fetchMetrics sends.
    env: { NODE_ENV: 'production', LATCHKEY_LOG_LEVEL: 'error', LATCHKEY_METRICS_TOKEN: TEST_METRICS_TOKEN, ...env },
    readyPath,
    readyTimeoutMs: START_TIMEOUT_MS(),
    stopGraceMs: 3_000,
    ...pinnedTo(SERVER_CORE),
  });
}

export function startRedis(): Promise<RedisServer> {
  return startRedisServer({ readyTimeoutMs: START_TIMEOUT_MS(), ...pinnedTo(LOAD_CORE) });
}

/** A local Redis Cluster of `masters` nodes, no replicas; `url` is one seed. */
export function startCluster(masters: number): Promise<RedisCluster> {
  return startRedisCluster({ masters, ...pinnedTo(LOAD_CORE) });
}
