/**
 * What reading the session while rendering costs, per call, beside the guard's per-request cost, in one process on a
 * real Redis, interleaved rounds (so drift in the machine's load hits each alike):
 * - the guard (`bff.guard.authorize`) on a token it verified before: its hot path, no network;
 * - `bff.getSession(cookie)` answered from its per-process cache: no network;
 * - `bff.getSession(cookie)` with the cache off (`session.readCacheSeconds: 0`): one Redis read per call;
 * - `bff.getAccessToken(cookie)`: the cached session plus the cached server token.
 * Calls are awaited one after another (a render's cost, not throughput). Not a test: nothing asserts on time.
 */
import { randomBytes } from 'node:crypto';
import { createBff, RedisStore, type Bff } from '@latchkey/bff';

const ISSUER = 'https://bench.example';
const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqr';

export interface SessionReadResult {
  nsPerCall: number;
  /** nsPerCall over the guard's. */
  ratio: number;
  /** Calls measured (over every round). */
  calls: number;
}

async function start(redisUrl: string, prefix: string, cacheSeconds?: number): Promise<{ bff: Bff; store: RedisStore }> {
  process.env.LATCHKEY_LOG_LEVEL ??= 'warn';
  const store = await RedisStore.connect({ url: redisUrl, prefix });
  const bff = await createBff({
    store,
    secrets: [SECRET],
    tokens: { issuer: ISSUER },
    authenticate: async (username) => ({ id: `user-${username}`, name: username }),
    ...(cacheSeconds === undefined ? {} : { session: { readCacheSeconds: cacheSeconds } }),
  });
  return { bff, store };
}

/** Calls `fn` until `ms` have passed; returns the calls made and the ns they took. */
async function run(fn: () => Promise<unknown>, ms: number): Promise<{ calls: number; ns: number }> {
  const startNs = process.hrtime.bigint();
  const until = startNs + BigInt(ms) * 1_000_000n;
  let calls = 0;
  let now = startNs;
  while (now < until) {
    // Batches of 64 between clock reads: the clock read would otherwise weigh on the in-memory variants.
    for (let i = 0; i < 64; i++) await fn();
    calls += 64;
    now = process.hrtime.bigint();
  }
  return { calls, ns: Number(now - startNs) };
}

export async function sessionReadCost(redisUrl: string, options: { rounds: number; msPerRound: number }): Promise<Record<string, SessionReadResult>> {
  const prefix = `bench-ssr-${randomBytes(4).toString('hex')}:`;
  const withCache = await start(redisUrl, prefix);
  const withoutCache = await start(redisUrl, prefix, 0);
  const cached = withCache.bff;
  const uncached = withoutCache.bff;
  try {
    const res = await cached.fetch(
      new Request(`${ISSUER}/auth/login`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF': '1', Origin: ISSUER },
        body: JSON.stringify({ username: 'alice', password: 'x' }),
      }),
    );
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
    const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
    const authorization = `Bearer ${((await res.json()) as { accessToken: string }).accessToken}`;
    const variants: Array<[string, () => Promise<unknown>]> = [
      ['guard (verified token)', () => cached.guard.authorize(authorization)],
      ['getSession, cached', () => cached.getSession(cookie)],
      ['getSession, cache off (1 Redis read)', () => uncached.getSession(cookie)],
      ['getAccessToken, cached', () => cached.getAccessToken(cookie)],
    ];
    for (const [name, fn] of variants) {
      if ((await fn()) === null) throw new Error(`${name} answered null`);
      await run(fn, 200);
    }
    const totals = new Map(variants.map(([name]) => [name, { calls: 0, ns: 0 }]));
    for (let round = 0; round < options.rounds; round++) {
      for (const [name, fn] of variants) {
        const { calls, ns } = await run(fn, options.msPerRound);
        const total = totals.get(name)!;
        total.calls += calls;
        total.ns += ns;
      }
    }
    const perCall = (name: string) => totals.get(name)!.ns / totals.get(name)!.calls;
    const guard = perCall(variants[0]![0]);
    return Object.fromEntries(
      variants.map(([name]) => [
        name,
        { nsPerCall: Math.round(perCall(name)), ratio: Math.round((perCall(name) / guard) * 100) / 100, calls: totals.get(name)!.calls },
      ]),
    );
  } finally {
    // The BFF leaves its store to the application: both closed here, or their connections keep the run alive.
    for (const { bff, store } of [withCache, withoutCache]) {
      await bff.close();
      await store.close();
    }
  }
}
