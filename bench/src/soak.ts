/**
 * `node bench/dist/soak.js` (after `npm run build`): a bounded soak of a two-process deployment.
 *
 * Starts its own redis-server and two demo processes (A and B) on it, with one LATCHKEY_SECRET, one issuer and a
 * short access-token lifetime, then simulates many devices of alice and bob, each a loop with its own cookie jar
 * talking to A or B at random: login, GET /api/me, refresh near expiry (sometimes early; sometimes two concurrent
 * refreshes with the same cookie, or a retry after a "lost" response), logout and re-login now and then. Every
 * ~30 s in the middle of the run one user signs out everywhere. Each revocation is followed by probes of the
 * revoked tokens on the other process.
 *
 * Must be 0 (else exit 1): revoked tokens accepted more than SOAK_WINDOW_MS after the revoking call returned; false
 * theft alarms (401 reuse_detected seen by a device, or latchkey_theft_detections_total on either process).
 * Also reported: requests by kind and status, errors and timeouts, false rejections, and memory (RSS and heap of
 * both processes, their revocation views, Redis used_memory, DBSIZE, the revocation log) sampled through the run
 * and again once the longest token lifetime has passed after the load stopped.
 *
 * Environment: SOAK_SECONDS (load, default 180), SOAK_DEVICES (48), SOAK_ACCESS_TTL (s, 10), SOAK_WINDOW_MS (50),
 * SOAK_SAMPLE_SECONDS (10), SOAK_LOGOUT_ALL_SECONDS (30). Writes bench/results/soak.json. Not a test.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { metricSeries, metricSum, sleep, type NodeProcess } from '@latchkey/testkit';
import { startCluster, startNode, startRedis } from './launch.js';
import { send, Tally, type HttpResult, type Proc } from './soak-http.js';
import { Ledger, type SessionRec, type TokenRec } from './soak-ledger.js';
import { fetchProcessMetrics, takeSample, type Sample } from './soak-sampler.js';

// The soak spreads its processes over both cores as the scheduler likes; pinning is for the side-by-side bench.
process.env.BENCH_PIN ??= '0';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 180);
const DEVICES = Number(process.env.SOAK_DEVICES ?? 48);
const ACCESS_TTL = Number(process.env.SOAK_ACCESS_TTL ?? 10);
const WINDOW_MS = Number(process.env.SOAK_WINDOW_MS ?? 50);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const LOGOUT_ALL_SECONDS = Number(process.env.SOAK_LOGOUT_ALL_SECONDS ?? 30);
/** The demo's guard tolerates 5 s of clock skew; revocation markers live access TTL + skew + 1 s. */
const SKEW_SECONDS = 5;
const MARKER_TTL_MS = (ACCESS_TTL + SKEW_SECONDS + 1) * 1000;
/** After the load: the longest token lifetime (a marker's life) plus a margin, then the final sample. */
const WAIT_AFTER_MS = MARKER_TTL_MS + 4000;
const TIMEOUT_MS = 5000;
/** Refresh when the token has less than this left (the client SDK refreshes ahead of expiry too). */
const REFRESH_AHEAD_MS = 2500;
/** A device's session lasts this long before it logs out and signs in again. */
const SESSION_LIFE_MS: [number, number] = [15_000, 75_000];
/** Pause between a device's API calls: ~2.6 requests/s per device. */
const THINK_MS: [number, number] = [150, 600];
/** Probes of revoked tokens, ms after the revoking call returned: on the other process at each, on the same one at some. */
const PROBE_OFFSETS_MS = [0, 20, 60, 150, 400, 1000, 2500, 5000, 8000];
const PROBE_SAME_PROCESS_MS = new Set([60, 1000]);

const DEMO = fileURLToPath(new URL('../../examples/demo/dist/server.js', import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));
/** SOAK_CLUSTER=1: the two demo processes share a 3-master Redis Cluster instead of one Redis. */
const CLUSTER = process.env.SOAK_CLUSTER === '1';
const RESULTS = fileURLToPath(new URL(CLUSTER ? '../results/soak-cluster.json' : '../results/soak.json', import.meta.url));
const SECRET = 'soak-secret-0123456789-abcdefghijklmnopqrstuv';
const ISSUER = 'http://soak.local';
const USERS = [
  { username: 'alice', password: 'wonderland' },
  { username: 'bob', password: 'builder' },
] as const;

type User = (typeof USERS)[number];

const rand = (min: number, max: number) => min + Math.random() * (max - min);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const mib = (bytes: number | null | undefined) => (bytes === null || bytes === undefined || !Number.isFinite(bytes) ? null : round(bytes / 2 ** 20, 1));

let procs: [Proc, Proc];
const pick = (): Proc => procs[Math.random() < 0.5 ? 0 : 1];
const other = (p: Proc): Proc => (p === procs[0] ? procs[1] : procs[0]);

const tally = new Tally();
const ledger = new Ledger(WINDOW_MS);
const rotation = { pairs: 0, pairsSameCookie: 0, pairsDifferentCookie: 0, retries: 0, retriesSameCookie: 0, retriesDifferentCookie: 0 };
const driverErrors: string[] = [];
const rateLimited = { count: 0, maxRetryAfterSeconds: 0 };

/**
 * At most this many logins of one account in flight. The BFF reserves a failure on the account (5 per 15 min) before
 * each password check and gives it back when the password was right; an attempt refused while other logins of the
 * same process are in flight waits for them, but the soak spreads logins over two processes, where more than 5
 * correct logins of one account at the same instant can still get a 429. So the soak keeps its logins per account
 * below the limit.
 */
const LOGINS_IN_FLIGHT_PER_USER = 2;

class Semaphore {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(slots: number) {
    this.free = slots;
  }
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}
const loginSlots = new Map(USERS.map((u) => [u.username, new Semaphore(LOGINS_IN_FLIGHT_PER_USER)]));
let stopping = false;

interface TokenBody {
  accessToken: string;
  expiresAt: number;
  session: { id: string };
}

// ---------------------------------------------------------------------------------------------------------------
// Probes of revoked tokens

const pendingProbes = new Set<Promise<void>>();
let probesScheduled = 0;

function probeLater(s: SessionRec, token: TokenRec, proc: Proc, delayMs: number): void {
  probesScheduled++;
  const p = (async () => {
    await sleep(Math.max(0, delayMs));
    if (Date.now() > token.expMs + 1000) return; // expired: a 401 would say nothing about revocation
    const r = await send(proc, 'GET', '/api/me', { token: token.token, timeoutMs: TIMEOUT_MS });
    tally.record('me (probe of revoked token)', r, proc);
    ledger.observeMe('probe', s, token, r, proc);
  })();
  pendingProbes.add(p);
  void p.finally(() => pendingProbes.delete(p));
}

/** Probes a sample of the session's still-valid tokens on the process that did not revoke it (and on it, twice). */
function probeRevoked(s: SessionRec, revoker: Proc, revokedAt: number, maxTokens: number): void {
  const live = s.tokens.filter((t) => t.expMs > Date.now());
  const sample = [...new Set([live.at(-1), live[0]])].filter((t): t is TokenRec => t !== undefined).slice(0, maxTokens);
  for (const token of sample) {
    for (const offset of PROBE_OFFSETS_MS) {
      const delay = revokedAt + offset - performance.now();
      probeLater(s, token, other(revoker), delay);
      if (PROBE_SAME_PROCESS_MS.has(offset)) probeLater(s, token, revoker, delay);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Devices

class Device {
  cookie: string | null = null;
  session: SessionRec | null = null;
  token: TokenRec | null = null;
  private logoutAt = 0;
  private hadClientTimeout = false;

  /** `ip`: the device's client address (X-Forwarded-For), so the per-IP login limit (30/min) applies per device. */
  constructor(
    readonly id: string,
    readonly user: User,
    private readonly ip: string,
  ) {}

  async run(): Promise<void> {
    await sleep(rand(0, 3000)); // stagger the first logins
    while (!stopping) {
      try {
        await this.step();
      } catch (error) {
        if (driverErrors.length < 20) driverErrors.push(`${this.id}: ${(error as Error).stack ?? String(error)}`);
        await sleep(1000);
      }
    }
  }

  private async step(): Promise<void> {
    if (this.session === null) {
      const ok = await this.login();
      await sleep(ok ? rand(50, 300) : 1000);
      return;
    }
    if (performance.now() >= this.logoutAt) {
      await this.logout('logout');
      await sleep(rand(300, 2000));
      return;
    }
    const left = this.token!.expMs - Date.now();
    if (left < REFRESH_AHEAD_MS || Math.random() < 0.02) {
      await this.refresh();
      await sleep(rand(50, 200));
      return;
    }
    await this.me();
    await sleep(rand(...THINK_MS));
  }

  async login(kind = 'login'): Promise<boolean> {
    const proc = pick();
    const release = await loginSlots.get(this.user.username)!.acquire();
    let r: HttpResult;
    try {
      r = await send(proc, 'POST', '/auth/login', {
        body: { username: this.user.username, password: this.user.password, deviceName: `soak ${this.id}` },
        cookie: this.cookie,
        xff: this.ip,
        timeoutMs: TIMEOUT_MS,
      });
    } finally {
      release();
    }
    tally.record(kind, r, proc);
    if (r.status === 429) {
      rateLimited.count++;
      const retryAfter = Number(r.retryAfter ?? 5);
      rateLimited.maxRetryAfterSeconds = Math.max(rateLimited.maxRetryAfterSeconds, retryAfter);
      await sleep(Math.min(10, Number.isFinite(retryAfter) ? retryAfter : 5) * 1000);
    }
    if (r.status !== 200 || typeof r.setCookie !== 'string') return false;
    const body = r.json as TokenBody;
    const s: SessionRec = { sid: body.session.id, user: this.user.username, device: this.id, loginSentAt: r.tSend, loginDoneAt: r.tRecv, tokens: [] };
    ledger.register(s);
    this.session = s;
    this.token = ledger.addToken(s, body.accessToken, body.expiresAt);
    this.cookie = r.setCookie;
    this.logoutAt = performance.now() + rand(...SESSION_LIFE_MS);
    this.hadClientTimeout = false;
    return true;
  }

  async me(): Promise<void> {
    const proc = pick();
    const s = this.session!;
    const token = this.token!;
    const r = await send(proc, 'GET', '/api/me', { token: token.token, timeoutMs: TIMEOUT_MS });
    tally.record('me', r, proc);
    ledger.observeMe('me', s, token, r, proc);
    if (r.status !== 401) return;
    // As the axios adapter does: one refresh, one retry.
    await this.refresh('single');
    if (this.session !== s || this.token === token) return;
    const again = pick();
    const r2 = await send(again, 'GET', '/api/me', { token: this.token!.token, timeoutMs: TIMEOUT_MS });
    tally.record('me (retry after refresh)', r2, again);
    ledger.observeMe('me', s, this.token!, r2, again);
  }

  async refresh(forced?: 'single'): Promise<void> {
    const roll = Math.random();
    const mode = forced ?? (roll < 0.05 ? 'pair' : roll < 0.08 ? 'retry' : 'single');
    const s = this.session!;
    const cookie = this.cookie;
    const results: Array<[HttpResult, Proc]> = [];
    let final: HttpResult;
    if (mode === 'pair') {
      // Two tabs without a shared lock: both refresh with the same cookie, one on each process.
      const order: [Proc, Proc] = Math.random() < 0.5 ? [procs[0], procs[1]] : [procs[1], procs[0]];
      const [r1, r2] = await Promise.all(order.map((p) => send(p, 'POST', '/auth/refresh', { cookie, timeoutMs: TIMEOUT_MS })));
      results.push([r1!, order[0]], [r2!, order[1]]);
      for (const [r, p] of results) tally.record('refresh (concurrent pair)', r, p);
      if (r1!.status === 200 && r2!.status === 200) {
        rotation.pairs++;
        if (r1!.setCookie === r2!.setCookie) rotation.pairsSameCookie++;
        else rotation.pairsDifferentCookie++;
      }
      final = r1!.status === 200 ? r1! : r2!;
    } else if (mode === 'retry') {
      // The answer to the first refresh is "lost": the device retries with the cookie it still has.
      const p1 = pick();
      const r1 = await send(p1, 'POST', '/auth/refresh', { cookie, timeoutMs: TIMEOUT_MS });
      tally.record('refresh (answer lost)', r1, p1);
      const p2 = pick();
      const r2 = await send(p2, 'POST', '/auth/refresh', { cookie, timeoutMs: TIMEOUT_MS });
      tally.record('refresh (retry after lost answer)', r2, p2);
      results.push([r1, p1], [r2, p2]);
      if (r1.status === 200 && r2.status === 200) {
        rotation.retries++;
        if (r1.setCookie === r2.setCookie) rotation.retriesSameCookie++;
        else rotation.retriesDifferentCookie++;
      }
      final = r2;
    } else {
      const p = pick();
      final = await send(p, 'POST', '/auth/refresh', { cookie, timeoutMs: TIMEOUT_MS });
      tally.record('refresh', final, p);
      results.push([final, p]);
    }

    let ended = false;
    for (const [r, p] of results) {
      if (r.status === 200) ledger.addToken(s, (r.json as TokenBody).accessToken, (r.json as TokenBody).expiresAt);
      else if (r.status === 401) {
        ledger.observeRefresh401(mode === 'single' ? 'refresh' : `refresh (${mode})`, s, this.id, r, p, this.hadClientTimeout);
        ended = true;
      } else if (r.status === -1) this.hadClientTimeout = true;
    }
    if (ended) {
      // Signed out (session revoked elsewhere, or a false alarm already counted): sign in again.
      this.session = null;
      this.token = null;
      this.cookie = null;
      return;
    }
    if (final.status === 200 && typeof final.setCookie === 'string') {
      this.cookie = final.setCookie;
      this.token = s.tokens.find((t) => t.token === (final.json as TokenBody).accessToken) ?? this.token;
    } else if (final.status !== 200) {
      await sleep(500); // 5xx or network: stay signed in, retry with the same cookie
    }
  }

  async logout(by: 'logout' | 'drain'): Promise<void> {
    const proc = pick();
    const s = this.session!;
    const r = await send(proc, 'POST', '/auth/logout', { cookie: this.cookie, timeoutMs: TIMEOUT_MS });
    tally.record('logout', r, proc);
    if (r.status === 204) {
      ledger.markRevoked(s, r.tSend, r.tRecv, by);
      probeRevoked(s, proc, r.tRecv, 2);
    } else {
      ledger.markPossiblyRevoked(s, r.tSend);
    }
    this.session = null;
    this.token = null;
    this.cookie = null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Logout-all in the middle of the run

interface LogoutAllEvent {
  atSeconds: number;
  user: string;
  process: string;
  status: string;
  sessionsEnded: number;
  sessionsProbed: number;
}

async function logoutAllLoop(loadStart: number, events: LogoutAllEvent[]): Promise<void> {
  let at = Math.min(20, SOAK_SECONDS / 3);
  for (let k = 0; at < SOAK_SECONDS - 5; k++, at += LOGOUT_ALL_SECONDS) {
    while (!stopping && performance.now() < loadStart + at * 1000) await sleep(Math.min(250, loadStart + at * 1000 - performance.now()));
    if (stopping) return;
    const user = USERS[k % USERS.length]!;
    // "Sign out everywhere" from one more device of that user, signed in for the purpose.
    const caller = new Device(`logout-all-${k}`, user, `10.78.${Math.floor(k / 250) % 250}.${(k % 250) + 1}`);
    if (!(await caller.login('login (logout-all caller)'))) {
      events.push({ atSeconds: round((performance.now() - loadStart) / 1000), user: user.username, process: '-', status: 'caller login failed', sessionsEnded: 0, sessionsProbed: 0 });
      continue;
    }
    await sleep(rand(200, 1000));
    const proc = pick();
    const r = await send(proc, 'POST', '/auth/logout-all', { cookie: caller.cookie, timeoutMs: TIMEOUT_MS });
    tally.record('logout-all', r, proc);
    let ended: SessionRec[] = [];
    let probed = 0;
    if (r.status === 204) {
      ended = ledger.logoutAll(user.username, r.tSend, r.tRecv);
      const withLiveTokens = ended.filter((s) => s.tokens.some((t) => t.expMs > Date.now()));
      const sample = withLiveTokens.sort(() => Math.random() - 0.5).slice(0, 8);
      if (!sample.includes(caller.session!)) sample.push(caller.session!);
      for (const s of sample) probeRevoked(s, proc, r.tRecv, 1);
      probed = sample.length;
    } else {
      for (const s of ledger.sessions.values()) if (s.user === user.username) ledger.markPossiblyRevoked(s, r.tSend);
    }
    events.push({ atSeconds: round((performance.now() - loadStart) / 1000), user: user.username, process: proc.name, status: String(r.status), sessionsEnded: ended.length, sessionsProbed: probed });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report helpers

type Row = { start: number | null; warm: number | null; peak: number | null; endOfLoad: number | null; final: number | null };

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The first load sample at least a third of the way into the load (at most 60 s in): the baseline after warm-up. */
function warmSample(samples: Sample[]): Sample {
  const load = samples.filter((s) => s.phase === 'load');
  return load.find((s) => s.atSeconds >= Math.min(60, SOAK_SECONDS / 3)) ?? load[0] ?? samples[0]!;
}

function memorySummary(samples: Sample[]): Record<string, Row> {
  const start = samples[0]!;
  const warm = warmSample(samples);
  const endOfLoad = samples.filter((s) => s.phase === 'load').at(-1) ?? start;
  const final = samples.at(-1)!;
  const row = (get: (s: Sample) => number | null, scale: (v: number | null) => number | null = (v) => v): Row => {
    const values = samples.map(get).filter((v): v is number => v !== null);
    return {
      start: scale(get(start)),
      warm: scale(get(warm)),
      peak: scale(values.length ? Math.max(...values) : null),
      endOfLoad: scale(get(endOfLoad)),
      final: scale(get(final)),
    };
  };
  const out: Record<string, Row> = {};
  for (const p of procs) {
    out[`${p.name} RSS (MiB)`] = row((s) => s.processes[p.name]?.rssBytes ?? null, mib);
    out[`${p.name} heap used (MiB)`] = row((s) => s.processes[p.name]?.heapUsedBytes ?? null, mib);
    out[`${p.name} revocation view entries`] = row((s) => s.processes[p.name]?.viewEntries ?? null);
  }
  out['Redis used_memory (MiB)'] = row((s) => s.redis.usedMemory, mib);
  out['Redis keys (DBSIZE)'] = row((s) => s.redis.dbsize);
  out['revocation log entries (XLEN)'] = row((s) => s.redis.revocationLogLength);
  out['revocation log entries still live'] = row((s) => s.redis.revocationLogLive);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const redis = CLUSTER ? await startCluster(3) : await startRedis();
  const redisNodes = 'nodes' in redis ? redis.nodes : [redis];
  const redisUrl = redis.url;
  const env = {
    REDIS_URL: redisUrl,
    ...(CLUSTER ? { LATCHKEY_REDIS_CLUSTER: 'true' } : {}),
    LATCHKEY_SECRET: SECRET,
    LATCHKEY_ISSUER: ISSUER,
    LATCHKEY_ACCESS_TTL: String(ACCESS_TTL),
    LATCHKEY_LOG_LEVEL: 'error',
  };
  const children: NodeProcess[] = [];
  // A direct connection to every node: memory, keys and the shards' logs are summed over them.
  const inspectors = redisNodes.map((n) => new Redis(n.url));
  const redisPids = redisNodes.map((n) => n.pid!);
  const sample = (phase: string, atSeconds: number) => takeSample(phase, atSeconds, procs, inspectors, redisPids);
  const stopAll = async () => {
    for (const inspector of inspectors) inspector.disconnect();
    await Promise.all(children.map((c) => c.stop()));
    await redis.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true;
      void stopAll().finally(() => process.exit(130));
    });
  }

  try {
    const [a, b] = await Promise.all([startNode(DEMO, env, '/api/public'), startNode(DEMO, env, '/api/public')]);
    children.push(a, b);
    procs = [
      { name: 'A', url: a.url, pid: a.pid! },
      { name: 'B', url: b.url, pid: b.pid! },
    ];
    console.log(
      `Soak: ${SOAK_SECONDS} s of load, ${DEVICES} devices (alice and bob), access TTL ${ACCESS_TTL} s, window ${WINDOW_MS} ms; ` +
        `A ${a.url} (pid ${procs[0].pid}), B ${b.url} (pid ${procs[1].pid}), ${CLUSTER ? `Redis Cluster of ${redisNodes.length} masters, seed` : 'Redis'} ${redisUrl}`,
    );

    const t0 = performance.now();
    const at = () => round((performance.now() - t0) / 1000);
    const samples: Sample[] = [await sample('start', 0)];

    // Load.
    const loadStart = performance.now();
    const driverCpuStart = process.cpuUsage();
    const devices = Array.from({ length: DEVICES }, (_, i) => new Device(`d${i}`, USERS[i % USERS.length]!, `10.77.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`));
    const runs = devices.map((d) => d.run());
    const logoutAllEvents: LogoutAllEvent[] = [];
    const logoutAlls = logoutAllLoop(loadStart, logoutAllEvents);
    const loadEnd = loadStart + SOAK_SECONDS * 1000;
    let nextSample = loadStart + SAMPLE_SECONDS * 1000;
    while (performance.now() < loadEnd) {
      await sleep(Math.max(0, Math.min(nextSample, loadEnd) - performance.now()));
      if (performance.now() >= nextSample) {
        const s = await sample('load', at());
        samples.push(s);
        nextSample += SAMPLE_SECONDS * 1000;
        ledger.prune();
        const rss = procs.map((p) => `${p.name} ${mib(s.processes[p.name]?.rssBytes)} MiB`).join(', ');
        const views = procs.map((p) => `${p.name} ${s.processes[p.name]?.viewEntries}`).join(', ');
        console.log(
          `  t=${s.atSeconds}s requests ${tally.total()}, violations ${ledger.violations.length}, false theft ${ledger.falseTheft.length}, ` +
            `RSS ${rss}, view entries ${views}, Redis ${mib(s.redis.usedMemory)} MiB / ${s.redis.dbsize} keys / log ${s.redis.revocationLogLength} (${s.redis.revocationLogLive} live)`,
        );
      }
    }

    const driverCpu = process.cpuUsage(driverCpuStart);
    const loadSeconds = (performance.now() - loadStart) / 1000;
    // Stop the load; every device signs out (so no live session is left), then wait out the longest token lifetime.
    stopping = true;
    await Promise.all([...runs, logoutAlls]);
    const stillIn = devices.filter((d) => d.session !== null);
    for (let i = 0; i < stillIn.length; i += 8) await Promise.all(stillIn.slice(i, i + 8).map((d) => d.logout('drain')));
    const drained = performance.now();
    samples.push(await sample('after load', at()));
    console.log(`  load stopped at t=${at()}s, ${stillIn.length} devices signed out; waiting ${WAIT_AFTER_MS / 1000} s (token lifetime + skew + margin)`);
    while (performance.now() < drained + WAIT_AFTER_MS) {
      await sleep(Math.min(5000, drained + WAIT_AFTER_MS - performance.now()));
      samples.push(await sample(performance.now() >= drained + WAIT_AFTER_MS ? 'final' : 'after load', at()));
    }
    await Promise.all([...pendingProbes]);
    if (samples.at(-1)!.phase !== 'final') samples.push(await sample('final', at()));

    // Final metrics from both processes.
    const metrics: Record<string, Record<string, unknown>> = {};
    let theftMetric = 0;
    for (const p of procs) {
      const text = (await fetchProcessMetrics(p)) ?? '';
      const theft = metricSum(text, 'latchkey_theft_detections_total') ?? NaN;
      theftMetric += theft;
      const within = (le: string) => metricSum(text, 'latchkey_revocation_propagation_seconds_bucket', { le }) ?? NaN;
      const count = metricSum(text, 'latchkey_revocation_propagation_seconds_count') ?? NaN;
      metrics[p.name] = {
        theftDetections: theft,
        refreshes: metricSeries(text, 'latchkey_refreshes_total'),
        logins: metricSeries(text, 'latchkey_logins_total'),
        logouts: metricSeries(text, 'latchkey_logouts_total'),
        authDecisions: metricSeries(text, 'latchkey_auth_decisions_total'),
        storeErrors: metricSum(text, 'latchkey_store_errors_total'),
        feedErrors: metricSum(text, 'latchkey_revocation_feed_errors_total'),
        propagation: { events: count, within5ms: within('0.005'), within50ms: within('0.05'), over50ms: count - within('0.05') },
      };
    }
    loop.disable();
    await stopAll();

    // Report.
    const falseRejections = ledger.falseRejections();
    const violations = ledger.violationReport().map((v) => {
      const window = samples.find((x) => t0 + x.atSeconds * 1000 >= v.tSend);
      return { ...v, processEventLoopLagMaxMs: window ? round(window.processes[v.process]?.eventLoopLagMaxMs ?? NaN) : null };
    });
    const lagMax = Object.fromEntries(
      procs.map((p) => [p.name, round(Math.max(...samples.map((x) => x.processes[p.name]?.eventLoopLagMaxMs ?? 0)))]),
    );
    const falseTheftSeen = ledger.falseTheft.length;
    const memory = memorySummary(samples);
    const final = samples.at(-1)!;
    const start = samples[0]!;
    const revocationStateDrained =
      final.redis.revocationLogLive === 0 &&
      (final.redis.keys['user revoked_after'] ?? 0) === 0 &&
      procs.every((p) => final.processes[p.name]?.viewEntries === 0);
    const sessionsDrained = ['session', 'sid index', 'user index'].every((k) => (final.redis.keys[k] ?? 0) === 0);
    // Flat: the final RSS within 15 % (at least 16 MiB) of the median RSS under load after warm-up. Not the cold
    // start: a Node process keeps the heap and the scrypt buffers (16 MiB per login in flight) it grew to. The median,
    // not one sample: a single sample may catch the process just after a garbage collection.
    const warm = warmSample(samples);
    const warmLoad = samples.filter((x) => x.phase === 'load' && x.atSeconds >= warm.atSeconds);
    const rssFlat = Object.fromEntries(
      procs.map((p) => {
        const w = median(warmLoad.map((x) => x.processes[p.name]?.rssBytes).filter((v): v is number => v != null));
        const f = final.processes[p.name]?.rssBytes;
        return [p.name, w != null && f != null ? f <= w + Math.max(0.15 * w, 16 * 2 ** 20) : null];
      }),
    );
    const tombstones = final.redis.keys.tombstone ?? 0;
    // CPU during the load, in % of one core, from the first to the last load sample.
    const loadSamples = samples.filter((x) => x.phase === 'load');
    const firstLoad = samples[0]!;
    const lastLoad = loadSamples.at(-1) ?? firstLoad;
    const span = lastLoad.atSeconds - firstLoad.atSeconds || 1;
    const pct = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null ? round(((b - a) / span) * 100) : null);
    const cpu = {
      A: pct(firstLoad.processes.A?.cpuSeconds, lastLoad.processes.A?.cpuSeconds),
      B: pct(firstLoad.processes.B?.cpuSeconds, lastLoad.processes.B?.cpuSeconds),
      redis: pct(firstLoad.redis.cpuSeconds, lastLoad.redis.cpuSeconds),
      driver: round(((driverCpu.user + driverCpu.system) / 1e6 / loadSeconds) * 100),
    };
    const storeUnavailable = procs.map((p) => (metrics[p.name]!.authDecisions as Record<string, number>)['outcome="store_unavailable"'] ?? 0);
    const feedErrors = procs.map((p) => (metrics[p.name]!.feedErrors as number | null) ?? 0);
    const checks = {
      'revoked tokens accepted after the window (must be 0)': ledger.violations.length,
      'false theft alarms seen by devices (must be 0)': falseTheftSeen,
      'latchkey_theft_detections_total, A + B (must be 0)': theftMetric,
      'requests with a revoked token after the window': ledger.revokedAfterWindow,
      '  of which rejected (401)': ledger.revokedAfterWindowRejected,
      'requests with a revoked token within the window': ledger.revokedWithinWindow,
      '  of which accepted (allowed)': ledger.acceptedWithinWindow,
      'latest 200 for a revoked token, ms after revocation': round(ledger.latestAcceptanceMs),
      'revocations: logout': ledger.revocations.logout ?? 0,
      'revocations: logout-all': ledger.revocations['logout-all'] ?? 0,
      '  sessions certainly ended by logout-all': ledger.sessionsRevokedByLogoutAll,
      '  sessions possibly ended (login overlapped)': ledger.sessionsPossiblyRevokedByLogoutAll,
      'revocations: final sign-out': ledger.revocations.drain ?? 0,
      'probe requests scheduled': probesScheduled,
      'false rejections (401 for a live session nothing revoked)': falseRejections.length,
      '200s naming another session': ledger.wrongSubject,
      'concurrent refresh pairs: same successor / different': `${rotation.pairsSameCookie} / ${rotation.pairsDifferentCookie}`,
      'retries after a lost answer: same successor / different': `${rotation.retriesSameCookie} / ${rotation.retriesDifferentCookie}`,
      'logins answered 429 / largest Retry-After (s)': `${rateLimited.count} / ${rateLimited.maxRetryAfterSeconds}`,
      'errors (5xx, network, timeout) / of which timeouts': `${tally.errors} / ${tally.timeouts}`,
      'guard answers 503 store_unavailable, A / B': storeUnavailable.join(' / '),
      'revocation feed read errors, A / B': feedErrors.join(' / '),
      'CPU during load, % of one core: A / B / Redis / driver': `${cpu.A} / ${cpu.B} / ${cpu.redis} / ${cpu.driver}`,
      'demo event-loop delay max (ms), A / B': `${lagMax.A} / ${lagMax.B}`,
      'driver event-loop delay p99 / max (ms)': `${round(loop.percentile(99) / 1e6)} / ${round(loop.max / 1e6)}`,
    };

    console.log('\nRequests by kind and status:');
    console.table(tally.byKind());
    console.log('Latency by kind (ms):');
    console.table(tally.latency());
    console.log('Logout-all events:');
    console.table(logoutAllEvents);
    console.log('Checks:');
    console.table(Object.fromEntries(Object.entries(checks).map(([k, v]) => [k, { value: v }])));
    console.log('Revocation propagation on each process (latchkey_revocation_propagation_seconds):');
    console.table(Object.fromEntries(procs.map((p) => [p.name, metrics[p.name]!.propagation])));
    console.log(`Memory (start; warm = after warm-up; peak; end of load; final = ${WAIT_AFTER_MS / 1000} s after the last revocation):`);
    console.table(memory);
    console.log('Redis keys by kind, start / end of load / final:');
    const endOfLoad = samples.filter((s) => s.phase === 'load').at(-1) ?? start;
    const kinds = [...new Set([...Object.keys(start.redis.keys), ...Object.keys(endOfLoad.redis.keys), ...Object.keys(final.redis.keys)])].sort();
    console.table(Object.fromEntries(kinds.map((k) => [k, { start: start.redis.keys[k] ?? 0, endOfLoad: endOfLoad.redis.keys[k] ?? 0, final: final.redis.keys[k] ?? 0 }])));
    console.log(
      `Revocation state drained (no live log entry, no revoked_after key, both views at 0): ${revocationStateDrained ? 'yes' : 'NO'}; ` +
        `sessions drained: ${sessionsDrained ? 'yes' : 'NO'}; tombstones left (expire when each session would have idled out): ${tombstones}; ` +
        `RSS flat after warm-up (final within 15 % / 16 MiB of the median under load from t=${warm.atSeconds}s): ${JSON.stringify(rssFlat)}`,
    );
    if (violations.length) {
      console.log('Violations (first 20):');
      console.table(violations.slice(0, 20).map(({ tSend: _t, ...rest }) => rest));
    }
    if (ledger.falseTheft.length) {
      console.log('False theft alarms (first 20):');
      console.table(ledger.falseTheft.slice(0, 20));
    }
    if (falseRejections.length) {
      console.log('False rejections (first 20):');
      console.table(falseRejections.slice(0, 20).map(({ tRecv: _t, ...rest }) => rest));
    }
    if (tally.errorSamples.length) console.log(`Error samples:\n  ${tally.errorSamples.join('\n  ')}`);
    if (driverErrors.length) console.log(`Driver errors:\n  ${driverErrors.join('\n  ')}`);

    const mustBeZero = ledger.violations.length + falseTheftSeen + (Number.isNaN(theftMetric) ? 1 : theftMetric);
    const measured = ledger.revokedAfterWindow > 0;
    const results = {
      date: new Date().toISOString(),
      node: process.version,
      config: { soakSeconds: SOAK_SECONDS, devices: DEVICES, accessTtlSeconds: ACCESS_TTL, windowMs: WINDOW_MS, sampleSeconds: SAMPLE_SECONDS, logoutAllEverySeconds: LOGOUT_ALL_SECONDS, waitAfterLoadMs: WAIT_AFTER_MS },
      passed: mustBeZero === 0 && measured,
      checks,
      violations: violations.map(({ tSend: _t, ...rest }) => rest),
      falseTheft: ledger.falseTheft,
      falseRejections: falseRejections.map(({ tRecv: _t, ...rest }) => rest),
      requests: { total: tally.total(), byKind: tally.byKind(), latencyMs: tally.latency(), errors: tally.errors, timeouts: tally.timeouts, errorSamples: tally.errorSamples },
      rotation,
      logoutAllEvents,
      processMetrics: metrics,
      memory: { summary: memory, revocationStateDrained, sessionsDrained, tombstonesLeft: tombstones, rssFlatAfterWarmUp: rssFlat, warmSampleAtSeconds: warm.atSeconds, samples },
      cpuPercentOfOneCore: cpu,
      driver: { eventLoopDelayP99Ms: round(loop.percentile(99) / 1e6), eventLoopDelayMaxMs: round(loop.max / 1e6), errors: driverErrors },
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nWritten to ${RESULTS}`);
    if (mustBeZero !== 0) {
      console.log(`FAILED: ${ledger.violations.length} revoked tokens accepted after the window, ${falseTheftSeen} false theft alarms seen, theft counter ${theftMetric}.`);
      return 1;
    }
    if (!measured) {
      console.log('INCONCLUSIVE: no request with a revoked token was made after the window.');
      return 2;
    }
    console.log('PASSED: no revoked token accepted after the window, no false theft alarm.');
    return 0;
  } catch (error) {
    stopping = true;
    await stopAll().catch(() => undefined);
    throw error;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
