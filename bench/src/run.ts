/**
 * `npm run bench`: every variant side by side in one run, ratios to the unguarded route, printed as a table and
 * written to bench/results/latest.json. Not a test: nothing here asserts on time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { newSessionKey, RedisStore, type DeviceSessionRecord } from '@latchkey/bff/store';
import { fetchMetrics, metricByLabel, type NodeProcess, type RedisServer } from '@latchkey/testkit';
import { pinSelf, startCluster, startNode, startRedis } from './launch.js';
import { pushLatency, streamsUnderLoad } from './live.js';
import { measure, measureLoop, type ThroughputResult } from './throughput.js';
import { sessionReadCost } from './session-read.js';
import { tracingCost } from './tracing-cost.js';
import { proxyBench } from './proxy.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const TRIALS = Number(process.env.BENCH_PROPAGATION_TRIALS ?? 400);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PUSH_TRIALS = Number(process.env.BENCH_PUSH_TRIALS ?? 50);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 2000);
/** Open server-sent event streams through each proxy (the proxy part's memory per stream). */
const PROXY_STREAMS = Number(process.env.BENCH_PROXY_STREAMS ?? 1000);
/** Which parts to run (comma-separated): throughput, propagation, memory, sessions, live, tracing, ssr, proxy, size. Default: all. */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'throughput,propagation,memory,sessions,live,tracing,ssr,proxy,size').split(',').map((p) => p.trim()));
/** Another build's demo server (examples/demo/dist/server.js) to measure propagation against, side by side. */
const BASELINE_DEMO = process.env.BENCH_BASELINE_DEMO;
/**
 * Another build's bench target (bench/dist/target.js): its guarded route and refresh are measured in the same
 * interleaved rounds as this build's, on a Redis of their own, so a redesign is judged side by side in one run.
 */
const BASELINE_TARGET = process.env.BENCH_BASELINE_TARGET;
const TARGET = fileURLToPath(new URL('./target.js', import.meta.url));
const DEMO = fileURLToPath(new URL('../../examples/demo/dist/server.js', import.meta.url));
const RESULTS = fileURLToPath(new URL('../results/latest.json', import.meta.url));
const SIZE_SCRIPT = fileURLToPath(new URL('../../client/scripts/size.mjs', import.meta.url));
const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqr';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** CPU time (user + system) a child process has used, in ms, from /proc (Linux). */
function cpuMs(child: NodeProcess): number {
  const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}

const mean = (list: ThroughputResult[]): ThroughputResult => ({
  // Only where the bench read the server's CPU (not for fetch loops).
  ...(list.every((r) => r.serverCpuUsPerRequest !== undefined) ? { serverCpuUsPerRequest: avg(list.map((r) => r.serverCpuUsPerRequest!)) } : {}),
  requestsPerSecond: avg(list.map((r) => r.requestsPerSecond)),
  p50Ms: avg(list.map((r) => r.p50Ms)),
  p99Ms: avg(list.map((r) => r.p99Ms)),
  non2xx: list.reduce((a, r) => a + r.non2xx, 0),
  errors: list.reduce((a, r) => a + r.errors, 0),
});

async function login(base: string, user: string, ip: string): Promise<{ token: string; cookie: string }> {
  const res = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF': '1', 'X-Forwarded-For': ip },
    body: JSON.stringify({ username: user, password: user === 'alice' ? 'wonderland' : user === 'bob' ? 'builder' : 'x' }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
  return { token: ((await res.json()) as { accessToken: string }).accessToken, cookie };
}

async function throughput(redis: RedisServer): Promise<Record<string, ThroughputResult & { ratio: number }>> {
  const latchkey = await startNode(TARGET, { BENCH_VARIANT: 'latchkey', REDIS_URL: redis.url, LATCHKEY_SECRET: SECRET }, '/ready');
  const { token } = await login(latchkey.url, 'bench', '10.0.0.1');
  const jwks = await (await fetch(`${latchkey.url}/auth/jwks.json`)).text();
  const others = {
    unguarded: await startNode(TARGET, { BENCH_VARIANT: 'unguarded' }, '/ready'),
    jose: await startNode(TARGET, { BENCH_VARIANT: 'jose', BENCH_JWKS: jwks }, '/ready'),
    'jose-redis': await startNode(TARGET, { BENCH_VARIANT: 'jose-redis', BENCH_JWKS: jwks, REDIS_URL: redis.url }, '/ready'),
  };
  const auth = { Authorization: `Bearer ${token}` };
  const baselineRedis = BASELINE_TARGET ? await startRedis() : null;
  const baseline = baselineRedis
    ? await startNode(BASELINE_TARGET!, { BENCH_VARIANT: 'latchkey', REDIS_URL: baselineRedis.url, LATCHKEY_SECRET: SECRET }, '/ready')
    : null;
  const baselineAuth: Record<string, string> = baseline ? { Authorization: `Bearer ${(await login(baseline.url, 'bench', '10.0.0.1')).token}` } : {};
  const runs: Record<string, ThroughputResult> = {};
  let loopBaseline: ThroughputResult | undefined;
  try {
    if (baseline) await measure({ url: `${baseline.url}/r`, durationSeconds: 1, connections: CONNECTIONS, headers: baselineAuth });
    // Warm-up, then the measured runs back to back.
    for (const t of [others.unguarded, latchkey, others.jose, others['jose-redis']]) {
      await measure({ url: `${t.url}/r`, durationSeconds: 1, connections: CONNECTIONS, headers: auth });
    }
    // Interleaved rounds (A B C D, A B C D, ...) so drift in the machine's load hits every variant alike.
    // Every variant gets the same request, Authorization header included, so the ratios isolate what the guard
    // costs; the header-less row shows what carrying a token costs the HTTP parser on its own.
    const variants: Array<[string, NodeProcess, Record<string, string>]> = [
      ['unguarded', others.unguarded, auth],
      ['unguarded, no Authorization header', others.unguarded, {}],
      ['latchkey', latchkey, auth],
      ['jose verify every request', others.jose, auth],
      ['jose + Redis GET', others['jose-redis'], auth],
      ...(baseline ? ([['latchkey (baseline build)', baseline, baselineAuth]] as Array<[string, NodeProcess, Record<string, string>]>) : []),
    ];
    const samples = new Map<string, ThroughputResult[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, target, headers] of variants) {
        const cpuBefore = cpuMs(target);
        const sample = await measure({ url: `${target.url}/r`, durationSeconds: DURATION, connections: CONNECTIONS, headers });
        const served = sample.requestsPerSecond * DURATION;
        sample.serverCpuUsPerRequest = ((cpuMs(target) - cpuBefore) * 1000) / served;
        samples.set(name, [...(samples.get(name) ?? []), sample]);
      }
    }
    for (const [name, list] of samples) runs[name] = mean(list);
    // Refresh: every answer carries the next cookie, so each worker is a device refreshing in a loop. Compared with
    // the unguarded route under the same fetch loop, since the load generator differs from autocannon's.
    const cookies = await Promise.all(
      Array.from({ length: CONNECTIONS }, (_, i) => login(latchkey.url, `device${i}`, `10.1.0.${i + 1}`).then((d) => d.cookie)),
    );
    const baselineCookies = baseline
      ? await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => login(baseline.url, `device${i}`, `10.1.0.${i + 1}`).then((d) => d.cookie)))
      : [];
    const refreshLoop = (url: string, jar: string[]) =>
      measureLoop(CONNECTIONS, DURATION, async (w) => {
        const res = await fetch(`${url}/auth/refresh`, { method: 'POST', headers: { 'X-CSRF': '1', Cookie: jar[w]! } });
        const next = res.headers.getSetCookie()[0]?.split(';')[0];
        if (res.status === 200 && next) jar[w] = next;
        await res.arrayBuffer();
        return res.status === 200;
      });
    const loops = new Map<string, ThroughputResult[]>();
    const add = (name: string, sample: ThroughputResult) => loops.set(name, [...(loops.get(name) ?? []), sample]);
    // Interleaved like the autocannon variants: the fetch-loop baseline, this build's refresh, the other build's.
    for (let round = 0; round < (baseline ? ROUNDS : 1); round++) {
      add('baseline', await measureLoop(CONNECTIONS, DURATION, async () => (await fetch(`${others.unguarded.url}/r`)).ok));
      add('refresh (rotation)', await refreshLoop(latchkey.url, cookies));
      if (baseline) add('refresh (rotation, baseline build)', await refreshLoop(baseline.url, baselineCookies));
    }
    loopBaseline = mean(loops.get('baseline')!);
    for (const [name, list] of loops) if (name !== 'baseline') runs[name] = mean(list);
  } finally {
    await Promise.all([latchkey.stop(), ...Object.values(others).map((o) => o.stop()), baseline?.stop()]);
    await baselineRedis?.stop();
  }
  const base = runs.unguarded!.requestsPerSecond;
  const baseCpu = runs.unguarded!.serverCpuUsPerRequest!;
  const ratioBase = (name: string) => (name.startsWith('refresh (rotation') ? loopBaseline!.requestsPerSecond : base);
  return Object.fromEntries([
    ...Object.entries(runs).map(([k, v]) => [
      k,
      {
        ...v,
        ratio: round(v.requestsPerSecond / ratioBase(k), 3),
        ...(v.serverCpuUsPerRequest === undefined ? {} : { cpuRatio: round(baseCpu / v.serverCpuUsPerRequest, 3) }),
      },
    ]),
    ['unguarded (fetch loop, refresh baseline)', { ...loopBaseline!, ratio: 1 }],
  ]);
}

/** Cumulative counts of B's `latchkey_revocation_propagation_seconds` histogram, by upper bound in seconds. */
type Buckets = Map<number, number>;

/**
 * Per trial, the time from a logout-all returning on A to the first 401 for the same user's token on B (ms): what a
 * user sees, including one HTTP round trip to B. Plus B's own histogram of the time from each revocation's entry in
 * the store to B's guard applying it: the propagation itself, without the HTTP round trip and its outliers.
 */
async function propagationSamples(store: Record<string, string>, trials: number, demo = DEMO): Promise<{ samples: number[]; applied: Buckets }> {
  const env = { ...store, LATCHKEY_SECRET: SECRET, LATCHKEY_ISSUER: 'http://bench.local', LATCHKEY_LOG_LEVEL: 'error' };
  const [a, b] = await Promise.all([startNode(demo, env, '/api/public'), startNode(demo, env, '/api/public')]);
  const samples: number[] = [];
  try {
    for (let i = 0; i < trials; i++) {
      const device = await login(a.url, i % 2 ? 'alice' : 'bob', `10.2.${Math.floor(i / 250)}.${(i % 250) + 1}`);
      const auth = { Authorization: `Bearer ${device.token}` };
      const accepted = (await fetch(`${b.url}/api/me`, { headers: auth })).status;
      if (accepted !== 200) throw new Error(`token not accepted on B: ${accepted}`);
      const res = await fetch(`${a.url}/auth/logout-all`, { method: 'POST', headers: { 'X-CSRF': '1', Cookie: device.cookie } });
      if (res.status !== 204) throw new Error(`logout-all failed: ${res.status}`);
      const t0 = performance.now();
      for (;;) {
        const status = (await fetch(`${b.url}/api/me`, { headers: auth })).status;
        if (status === 401) break;
        if (performance.now() - t0 > 5000) throw new Error('revocation never reached B');
      }
      samples.push(performance.now() - t0);
    }
    const histogram = metricByLabel(await fetchMetrics(b.url), 'latchkey_revocation_propagation_seconds_bucket', 'le');
    const applied: Buckets = new Map(Object.entries(histogram).map(([le, count]) => [le === '+Inf' ? Infinity : Number(le), count]));
    return { samples, applied };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

interface PropagationStats {
  trials: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** B's guard: revocations applied, and the histogram bucket (upper bound, ms) that holds their 50th and 99th percentile. */
  applied: { events: number; p50MsAtMost: number; p99MsAtMost: number };
}

function propagationStats(runs: Array<{ samples: number[]; applied: Buckets }>): PropagationStats {
  const sorted = runs.flatMap((r) => r.samples).sort((x, y) => x - y);
  const buckets: Buckets = new Map();
  for (const { applied } of runs) for (const [le, count] of applied) buckets.set(le, (buckets.get(le) ?? 0) + count);
  const bounds = [...buckets.keys()].sort((x, y) => x - y);
  const events = buckets.get(Infinity) ?? 0;
  const atMost = (p: number) => round(bounds.find((le) => buckets.get(le)! >= (events * p) / 100)! * 1000, 3);
  return {
    trials: sorted.length,
    p50Ms: round(percentile(sorted, 50), 3),
    p99Ms: round(percentile(sorted, 99), 3),
    maxMs: round(sorted.at(-1)!, 3),
    applied: { events, p50MsAtMost: atMost(50), p99MsAtMost: atMost(99) },
  };
}

/**
 * Propagation on one store. With BENCH_BASELINE_DEMO (the demo server of another build, e.g. the previous release),
 * that build is measured too, in interleaved rounds on the same store, so a loaded machine weighs on both alike.
 */
async function propagation(store: Record<string, string>): Promise<Record<string, PropagationStats>> {
  if (!BASELINE_DEMO) return { current: propagationStats([await propagationSamples(store, TRIALS)]) };
  const ROUNDS_OF_TRIALS = 4;
  const current: Array<{ samples: number[]; applied: Buckets }> = [];
  const baseline: Array<{ samples: number[]; applied: Buckets }> = [];
  for (let r = 0; r < ROUNDS_OF_TRIALS; r++) {
    const trials = Math.ceil(TRIALS / ROUNDS_OF_TRIALS);
    current.push(await propagationSamples(store, trials));
    baseline.push(await propagationSamples(store, trials, BASELINE_DEMO));
  }
  return { current: propagationStats(current), baseline: propagationStats(baseline) };
}

/**
 * Redis bytes per revoked token: Latchkey's log entry against the usual plain key per jti with a TTL, side by side
 * on the same server; then what is left once the longest token lifetime has passed.
 */
async function revocationMemory(redis: RedisServer) {
  const N = 20_000;
  const TTL_MS = 3000;
  const prefix = 'mem:';
  const jti = (i: number) => `jti-${i}-${'x'.repeat(12)}`; // 22 characters, like Latchkey's own jtis
  const inspector = new Redis(redis.url);
  const store = await RedisStore.connect({ url: redis.url, prefix });
  try {
    const used = async () => Number(/used_memory:(\d+)/.exec(await inspector.info('memory'))![1]);
    await store.revokeJti('warm-up', TTL_MS); // creates the log stream
    let before = await used();
    for (let i = 0; i < N; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => store.revokeJti(jti(i + j), TTL_MS)));
    }
    const finished = Date.now();
    const latchkeyBytes = ((await used()) - before) / N;

    before = await used();
    for (let i = 0; i < N; i += 500) {
      const batch = inspector.pipeline();
      for (let j = 0; j < 500; j++) batch.set(`plain:rv:jti:${jti(i + j)}`, '1', 'PX', TTL_MS);
      await batch.exec();
    }
    const plainKeyBytes = ((await used()) - before) / N;

    await new Promise((r) => setTimeout(r, Math.max(0, finished + TTL_MS + 500 - Date.now())));
    // Single node, one shard: the log is `<prefix>{0}rv`, user markers `<prefix>{0}ru:<user>`.
    const leftKeys = (await inspector.keys(`${prefix}{0}ru:*`)).length;
    const leftLog = (await inspector.exists(`${prefix}{0}rv`)) ? await inspector.xlen(`${prefix}{0}rv`) : 0;
    return {
      revoked: N,
      bytesPerRevokedToken: round(latchkeyBytes, 1),
      plainKeyPerJtiBytes: round(plainKeyBytes, 1),
      entriesLeftAfterLongestLifetime: leftKeys + leftLog,
    };
  } finally {
    await store.close();
    inspector.disconnect();
  }
}

/**
 * The session list and logout-all of one user, as the store calls them: a user with 10 000 sessions (what an
 * uncapped store let one account build up) against one at the cap (`session.maxPerUser`, default 50), side by side
 * on the same Redis. Times are whole store calls (script + reply over loopback), median of several.
 */
async function sessionScripts(redis: RedisServer) {
  const CAP = 50;
  const MANY = 10_000;
  const store = await RedisStore.connect({ url: redis.url, prefix: 'sess:', commandTimeoutMs: 10_000 });
  const session = (userId: string, i: number): DeviceSessionRecord => {
    const now = Date.now();
    return {
      key: newSessionKey(userId),
      sid: `sid-${userId}-${i}`,
      userId,
      userName: userId,
      deviceName: 'Firefox on Linux',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0',
      createdAt: now,
      rotatedAt: now,
      lastActivityAt: now,
      idleExpiresAt: now + 3_600_000,
      absoluteExpiresAt: now + 86_400_000,
      generation: 0,
      credentialHash: 'h'.repeat(43),
      previousHash: null,
      successorSealed: null,
      graceUntil: 0,
    };
  };
  const fill = async (userId: string, count: number, capped: boolean) => {
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, (_, j) =>
          store.createSession(session(userId, i + j), capped ? { maxSessionsPerUser: CAP, now: Date.now(), markerTtlMs: 310_000 } : undefined),
        ),
      );
    }
  };
  const timed = async <T>(call: () => Promise<T>): Promise<{ ms: number; result: T }> => {
    const t0 = performance.now();
    const result = await call();
    return { ms: performance.now() - t0, result };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const measureUser = async (label: string, count: number, capped: boolean) => {
    const lists: number[] = [];
    const logoutAlls: number[] = [];
    let listed = 0;
    let bytes = 0;
    for (let rep = 0; rep < (count > CAP * 10 ? 1 : 5); rep++) {
      const userId = `${label}-${rep}`;
      await fill(userId, capped ? count + 20 : count, capped); // capped: 20 logins beyond the cap, each evicting one
      for (let i = 0; i < 5; i++) {
        const { ms, result } = await timed(() => store.listUserSessions(userId, Date.now(), capped ? CAP : undefined));
        lists.push(ms);
        listed = result.length;
        bytes = JSON.stringify(result).length;
      }
      const now = Date.now();
      logoutAlls.push((await timed(() => store.endAllUserSessions(userId, 'logout_all', now, now, 310_000))).ms);
    }
    return { sessionsListed: listed, listReplyBytes: bytes, listMs: round(median(lists), 2), logoutAllMs: round(median(logoutAlls), 2) };
  };
  try {
    return {
      [`uncapped, ${MANY} sessions (before)`]: await measureUser('many', MANY, false),
      [`capped at ${CAP} (${CAP + 20} logins)`]: await measureUser('capped', CAP, true),
    };
  } finally {
    await store.close();
  }
}

function clientSizes(): unknown {
  if (!existsSync(SIZE_SCRIPT)) return null;
  const out = fileURLToPath(new URL('../results/size.tmp', import.meta.url));
  execFileSync(process.execPath, [SIZE_SCRIPT, out], { stdio: 'inherit' });
  return JSON.parse(String(execFileSync('cat', [out])));
}

async function main(): Promise<void> {
  const startLoad = loadavg().map((l) => round(l, 1));
  const pinned = pinSelf(1);
  const redis = await startRedis();
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    durationSeconds: DURATION,
    rounds: ROUNDS,
    connections: CONNECTIONS,
    cpuPinning: pinned ? 'servers on core 0; load generator and Redis on core 1' : 'off',
    parts: [...PARTS],
  };
  try {
    if (PARTS.has('throughput')) {
      const tp = await throughput(redis);
      results.throughput = tp;
      console.log('\nThroughput (ratio = requests/s over the unguarded route; cpu ratio = server CPU per request of the unguarded route over this one):');
      console.table(
        Object.fromEntries(
          Object.entries(tp).map(([k, v]) => [
            k,
            {
              'req/s': Math.round(v.requestsPerSecond),
              ratio: v.ratio,
              'cpu µs/req': v.serverCpuUsPerRequest === undefined ? '' : round(v.serverCpuUsPerRequest, 1),
              'cpu ratio': (v as { cpuRatio?: number }).cpuRatio ?? '',
              'p50 ms': round(v.p50Ms, 1),
              'p99 ms': round(v.p99Ms, 1),
              non2xx: v.non2xx,
            },
          ]),
        ),
      );
    }
    if (PARTS.has('propagation')) {
      const single = await propagation({ REDIS_URL: redis.url });
      results.propagation = single.current;
      // The same on a 3-master Redis Cluster, where guards follow 16 shard logs woken by sharded Pub/Sub instead of one XREAD.
      const cluster = await startCluster(3);
      let onCluster: Awaited<ReturnType<typeof propagation>>;
      try {
        onCluster = await propagation({ REDIS_URL: cluster.url, LATCHKEY_REDIS_CLUSTER: 'true' });
      } finally {
        await cluster.stop();
      }
      results.propagationCluster = onCluster.current;
      if (BASELINE_DEMO) results.propagationBaseline = { demo: BASELINE_DEMO, oneRedis: single.baseline, cluster: onCluster.baseline };
      console.log("\nRevocation propagation (logout-all on A -> first 401 on B; 'applied': store entry -> B's guard, histogram bucket):");
      const row = ({ applied, ...endToEnd }: PropagationStats) => ({
        ...endToEnd,
        'applied p50 <= ms': applied.p50MsAtMost,
        'applied p99 <= ms': applied.p99MsAtMost,
      });
      console.table({
        'one Redis': row(single.current!),
        '3-master Redis Cluster': row(onCluster.current!),
        ...(BASELINE_DEMO ? { 'one Redis, baseline build': row(single.baseline!), '3-master Redis Cluster, baseline build': row(onCluster.baseline!) } : {}),
      });
    }
    if (PARTS.has('memory')) {
      const mem = await revocationMemory(redis);
      results.revocationMemory = mem;
      console.log('\nRedis memory per revoked token:');
      console.table({ memory: mem });
    }
    if (PARTS.has('sessions')) {
      results.sessionScripts = await sessionScripts(redis);
      console.log("\nOne user's session list and logout-all (whole store calls, median):");
      console.table(results.sessionScripts);
    }
    if (PARTS.has('live')) {
      // Push sign-out (GET /auth/events): a real page on process B told of a logout-all on process A; and 2,000 open
      // streams on one process against an identical one without, side by side.
      // A database of its own: the parts above left a key ring sealed under another secret in database 0.
      const liveRedisUrl = `${redis.url.replace(/\/\d*$/, '')}/1`;
      const push = await pushLatency(liveRedisUrl, PUSH_TRIALS);
      console.log("\nPush sign-out (logout-all returns on A -> the other device's page shows signed-out on B, real Chromium):");
      console.table({ push });
      const streams = await streamsUnderLoad(liveRedisUrl, { streams: STREAMS, durationSeconds: DURATION, rounds: ROUNDS, connections: CONNECTIONS });
      console.log(`\n${STREAMS} open event streams on one demo process (memory per stream; guarded route with and without them):`);
      console.table({
        memory: {
          streams: streams.streams,
          'rss B/stream': streams.rssBytesPerStream,
          'heap B/stream': streams.heapBytesPerStream,
          'opened in ms': streams.openedInMs,
        },
      });
      console.table({ ...streams.guardedRoute, ratio: { requestsPerSecond: streams.throughputRatio } });
      results.live = { push, streams };
    }
    if (PARTS.has('tracing')) {
      // A database of its own, like the live part: other parts leave a key ring there.
      const tracing = await tracingCost({
        target: TARGET,
        env: { REDIS_URL: `${redis.url.replace(/\/\d*$/, '')}/2`, LATCHKEY_SECRET: SECRET },
        durationSeconds: DURATION,
        rounds: ROUNDS,
        connections: CONNECTIONS,
        login: async (base) => (await login(base, 'bench', '10.3.0.1')).token,
        cpuMs,
      });
      results.tracing = tracing;
      console.log('\nOpenTelemetry tracing, guarded route (ratio = requests/s over the tracing-off target):');
      console.table(
        Object.fromEntries(
          Object.entries(tracing).map(([k, v]) => [
            k,
            {
              'req/s': Math.round(v.requestsPerSecond),
              ratio: v.ratio,
              'cpu µs/req': round(v.serverCpuUsPerRequest ?? NaN, 1),
              'p50 ms': round(v.p50Ms, 1),
              'p99 ms': round(v.p99Ms, 1),
              non2xx: v.non2xx,
            },
          ]),
        ),
      );
    }
    if (PARTS.has('ssr')) {
      console.log('\nServer rendering: getSession per call beside the guard per request (one process, sequential awaited calls)');
      results.sessionRead = await sessionReadCost(redis.url, { rounds: ROUNDS, msPerRound: DURATION * 200 });
      console.table(results.sessionRead);
    }
    if (PARTS.has('proxy')) {
      // A database of its own, like the live part: other parts leave a key ring there.
      const proxy = await proxyBench({
        target: TARGET,
        redisUrl: `${redis.url.replace(/\/\d*$/, '')}/3`,
        secret: SECRET,
        durationSeconds: DURATION,
        rounds: ROUNDS,
        connections: CONNECTIONS,
        streams: PROXY_STREAMS,
        propagationTrials: Math.min(TRIALS, 200),
        cpuMs,
      });
      results.proxy = proxy;
      console.log('\nbff.proxy: the same upstream route four ways (req/s, latency under load, server CPU per request of the process measured):');
      console.table(proxy.throughput);
      console.table({ ratios: proxy.ratios });
      console.log('Added latency over the direct call (ms; sequential calls, then under load):');
      console.table({ added: proxy.addedLatency });
      console.log(`Memory per open server-sent event stream (${PROXY_STREAMS} streams):`);
      console.table(proxy.sseMemory);
      console.log('Logout-all on proxy process A -> first 401 of a proxied call on process B:');
      console.table({ propagation: proxy.logoutAllToProxiedCall });
    }
    if (PARTS.has('size')) results.clientSize = clientSizes();
  } finally {
    await redis.stop();
  }
  // Figures from a machine busy with other work are not comparable with a quiet run's: say how busy it was.
  results.loadAverage = { atStart: startLoad, atEnd: loadavg().map((l) => round(l, 1)) };
  mkdirSync(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true });
  // Some parts only (BENCH_PARTS): the other parts' last results stay in the file.
  const previous = process.env.BENCH_PARTS && existsSync(RESULTS) ? (JSON.parse(readFileSync(RESULTS, 'utf8')) as Record<string, unknown>) : {};
  writeFileSync(RESULTS, `${JSON.stringify({ ...previous, ...results }, null, 2)}\n`);
  console.log(`\nWritten to ${RESULTS}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
