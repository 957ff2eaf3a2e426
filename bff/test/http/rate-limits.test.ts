import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveBffOptions } from '../../src/options.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { SessionStore } from '../../src/store/types.js';
import { type RedisServer, startRedisServer } from '@latchkey/testkit';
import { call, login, refresh, sessionCookie, sleep, startTestBff, SECRET, ISSUER, USERS, type TestBff } from '../helpers/harness.js';

/** A BFF whose `authenticate` counts its calls (each one is a password check), with `loginLimits` as `rateLimit.login`. */
async function countingBff(store: SessionStore, loginLimits: Record<string, { limit: number; windowMs: number }>) {
  const checks = { count: 0 };
  const t = await startTestBff(
    {
      rateLimit: { login: loginLimits },
      authenticate: async (username, password) => {
        checks.count++;
        await sleep(5); // a password hash takes time: the guesses overlap
        const user = USERS[username];
        return user && user.password === password ? { id: user.id, name: user.name } : null;
      },
    },
    store,
  );
  t.app.set('trust proxy', 'loopback'); // the client IP comes from X-Forwarded-For
  const server = await new Promise<Server>((resolve) => {
    const s = t.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** `cookie`: a Cookie header to send (a device cookie). The answer's device cookie as `name=value`, when it set one. */
  const loginFrom = async (ip: string, username: string, password: string, cookie?: string) => {
    const res = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF': '1', 'X-Forwarded-For': ip, ...(cookie ? { Cookie: cookie } : {}) },
      body: JSON.stringify({ username, password }),
    });
    const device = res.headers
      .getSetCookie()
      .find((line) => /^(__Host-)?latchkey-device=/.test(line))
      ?.split(';')[0];
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { error?: string }, device };
  };
  return {
    t,
    checks,
    loginFrom,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await t.close();
    },
  };
}

const HIGH = { limit: 1_000_000, windowMs: 60_000 };

/** The same concurrency checks on both backends of the limits. */
function concurrencySuite(backend: string, makeStore: () => Promise<SessionStore>) {
  describe(`login limits under concurrency (${backend})`, () => {
    // 400 HTTP requests on a shared 2-core machine: the timeout is room for a loaded host, not a speed claim.
    it(
      '400 parallel wrong guesses from one IP: at most perAccountAndIp reach the password check, the rest 429 with Retry-After',
      { timeout: 90_000 },
      async () => {
        const b = await countingBff(await makeStore(), {
          perIp: HIGH,
          perAccountAndIp: { limit: 5, windowMs: 60_000 },
          perAccount: { limit: 100, windowMs: 60_000 },
        });
        try {
          const results = await Promise.all(Array.from({ length: 400 }, (_, i) => b.loginFrom('203.0.113.9', 'alice', `guess-${i}`)));
          expect(b.checks.count).toBeLessThanOrEqual(5);
          expect(b.checks.count).toBeGreaterThan(0);
          expect(results.filter((r) => r.status === 401)).toHaveLength(b.checks.count);
          const limited = results.filter((r) => r.status === 429);
          expect(limited).toHaveLength(400 - b.checks.count);
          for (const r of limited) {
            expect(r.body.error).toBe('rate_limited');
            expect(Number(r.retryAfter)).toBeGreaterThan(0);
          }
          // Even the right password is refused now, without being checked.
          const before = b.checks.count;
          expect((await b.loginFrom('203.0.113.9', 'alice', 'wonderland')).status).toBe(429);
          expect(b.checks.count).toBe(before);
        } finally {
          await b.close();
        }
      },
    );

    it('400 parallel wrong guesses from 400 IPs: at most perAccount reach the password check', { timeout: 90_000 }, async () => {
      const b = await countingBff(await makeStore(), {
        perIp: HIGH,
        perAccountAndIp: { limit: 5, windowMs: 60_000 },
        perAccount: { limit: 20, windowMs: 60_000 },
      });
      try {
        const results = await Promise.all(Array.from({ length: 400 }, (_, i) => b.loginFrom(`198.18.${i >> 8}.${i & 255}`, 'bob', `guess-${i}`)));
        expect(b.checks.count).toBeLessThanOrEqual(20);
        expect(b.checks.count).toBeGreaterThan(0);
        expect(results.filter((r) => r.status === 429)).toHaveLength(400 - b.checks.count);
      } finally {
        await b.close();
      }
    });

    it(
      "guesses from 400 IPs fill perAccount, yet bob's known device signs in from any address; attackers, forged and other accounts' device cookies stay limited",
      { timeout: 90_000 },
      async () => {
        const b = await countingBff(await makeStore(), {
          perIp: HIGH,
          perAccountAndIp: { limit: 5, windowMs: 60_000 },
          perAccount: { limit: 20, windowMs: 60_000 },
          perKnownDevice: { limit: 3, windowMs: 60_000 },
        });
        try {
          const home = await b.loginFrom('192.0.2.80', 'bob', 'builder');
          expect(home.status).toBe(200);
          expect(home.device).toMatch(/^(__Host-)?latchkey-device=d1\./);
          const alices = (await b.loginFrom('192.0.2.81', 'alice', 'wonderland')).device!;

          const attack = await Promise.all(Array.from({ length: 400 }, (_, i) => b.loginFrom(`198.18.${i >> 8}.${i & 255}`, 'bob', `guess-${i}`)));
          expect(attack.filter((r) => r.status === 429)).toHaveLength(400 - 20);
          const checked = b.checks.count;
          // The guessing bound holds for every browser without bob's device cookie, whatever it sends instead.
          const [name, value] = home.device!.split('=') as [string, string];
          const forged = `${name}=${value.slice(0, -4)}AAAA`;
          const others = `${name}=${alices.split('=')[1]}`;
          for (const cookie of [undefined, forged, others, `${name}=garbage`]) {
            const res = await b.loginFrom('198.18.9.9', 'bob', 'builder', cookie);
            expect(res.status).toBe(429);
            expect(res.body.error).toBe('rate_limited');
            expect(res.device).toBeUndefined();
          }
          expect((await b.loginFrom('192.0.2.80', 'bob', 'builder')).status).toBe(429); // his address alone is not enough
          expect(b.checks.count).toBe(checked);

          // Bob's own browser: the right password works from home and from a new address.
          const back = await b.loginFrom('192.0.2.80', 'bob', 'builder', home.device);
          expect(back.status).toBe(200);
          const travelling = await b.loginFrom('203.0.113.200', 'bob', 'builder', back.device);
          expect(travelling.status).toBe(200);
          // The device has a bound of its own: perKnownDevice failures, then 429 even for the right password.
          for (let i = 0; i < 3; i++) expect((await b.loginFrom('203.0.113.200', 'bob', `typo-${i}`, travelling.device)).status).toBe(401);
          const locked = await b.loginFrom('203.0.113.200', 'bob', 'builder', travelling.device);
          expect(locked.status).toBe(429);
          expect(Number(locked.retryAfter)).toBeGreaterThan(0);
          // Another known device of bob's (the cookie of his first login) is not affected by that one's failures.
          expect((await b.loginFrom('192.0.2.80', 'bob', 'builder', home.device)).status).toBe(200);
        } finally {
          await b.close();
        }
      },
    );

    it('concurrent correct logins are not limited: reservations of correct passwords are given back', async () => {
      const b = await countingBff(await makeStore(), {
        perIp: HIGH,
        perAccountAndIp: { limit: 2, windowMs: 60_000 },
        perAccount: { limit: 2, windowMs: 60_000 },
      });
      try {
        const results = await Promise.all(Array.from({ length: 12 }, () => b.loginFrom('203.0.113.10', 'alice', 'wonderland')));
        expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
        // Nothing was left counted: two wrong guesses still get through to the check, the third is refused.
        expect((await b.loginFrom('203.0.113.10', 'alice', 'bad')).status).toBe(401);
        expect((await b.loginFrom('203.0.113.10', 'alice', 'bad')).status).toBe(401);
        expect((await b.loginFrom('203.0.113.10', 'alice', 'bad')).status).toBe(429);
      } finally {
        await b.close();
      }
    });
  });
}

concurrencySuite('memory store', async () => new MemoryStore());

describe('on a real Redis', () => {
  let redis: RedisServer;
  let inspect: Redis;
  let n = 0;
  const prefix = () => `rl-${n}:`;
  const stores: RedisStore[] = [];
  const connect = async (options: { commandTimeoutMs?: number } = {}) => {
    n++;
    // A generous command timeout unless a test sets its own: the tests count answers under hundreds of parallel
    // logins, and on a loaded host one Redis call past the default 1 s turned one 429 into a 503.
    const store = await RedisStore.connect({ url: redis.url, prefix: prefix(), commandTimeoutMs: 10_000, ...options });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    inspect = new Redis(redis.url);
  });
  afterAll(async () => {
    inspect?.disconnect();
    await redis?.stop();
  });

  concurrencySuite('Redis store', () => connect());

  it("keeps its counters under the store's prefix, each with an expiry, with no user input in the key", async () => {
    const b = await countingBff(await connect(), {
      perIp: HIGH,
      perAccountAndIp: { limit: 5, windowMs: 60_000 },
      perAccount: { limit: 100, windowMs: 60_000 },
    });
    try {
      await b.loginFrom('203.0.113.11', 'al{ice}', 'nope');
      const keys = (await inspect.keys(`${prefix()}rl:*`)).sort();
      expect(keys.map((k) => k.replace(/:[^:]+$/, '')).sort()).toEqual([
        `${prefix()}rl:login-account`,
        `${prefix()}rl:login-account-ip`,
        `${prefix()}rl:login-ip`,
      ]);
      for (const key of keys) {
        expect(key).not.toMatch(/[{}]|ice|203\.0/);
        expect(await inspect.pttl(key)).toBeGreaterThan(0);
      }
    } finally {
      await b.close();
    }
  });

  it('while the limiter store is paused or down, login answers 503 with Retry-After before any password check', async () => {
    const b = await countingBff(await connect({ commandTimeoutMs: 300 }), { perIp: HIGH });
    const device = await login(b.t.app, 'bob');
    try {
      redis.pause();
      for (const password of ['wrong', 'wonderland']) {
        const res = await b.loginFrom('203.0.113.12', 'alice', password);
        expect(res.status).toBe(503);
        expect(res.body.error).toBe('temporarily_unavailable');
        expect(Number(res.retryAfter)).toBeGreaterThan(0);
      }
      const refreshed = await call(b.t.app, 'post', '/auth/refresh', { cookie: device.cookie });
      expect(refreshed.status).toBe(503);
      expect(sessionCookie(refreshed)).toBeNull();
      redis.resume();
      await redis.kill();
      for (const password of ['wrong', 'wonderland']) {
        const res = await b.loginFrom('203.0.113.12', 'alice', password);
        expect(res.status).toBe(503);
        expect(res.body.error).toBe('temporarily_unavailable');
        expect(Number(res.retryAfter)).toBeGreaterThan(0);
      }
      expect(b.checks.count).toBe(1); // bob's login before the outage, nothing during it
    } finally {
      redis.resume();
      await redis.restart();
      await b.close();
    }
  });
});

describe('refresh limits', () => {
  let t: TestBff;
  afterAll(() => t?.close());

  it('are validated and documented options with generous defaults', () => {
    const base = { store: new MemoryStore(), secrets: [SECRET], tokens: { issuer: ISSUER }, authenticate: async () => null };
    const options = resolveBffOptions(base);
    expect(options.rateLimit.refresh.perIp).toEqual({ limit: 1200, windowMs: 60_000 });
    expect(options.rateLimit.refresh.perSession).toEqual({ limit: 60, windowMs: 60_000 });
    expect(() => resolveBffOptions({ ...base, rateLimit: { refresh: { perSession: { limit: 5, windowMs: 10 } } } })).toThrow(
      /rateLimit\.refresh\.perSession\.windowMs/,
    );
    expect(() => resolveBffOptions({ ...base, rateLimit: { refresh: { perIp: { limit: 0, windowMs: 60_000 } } } })).toThrow(/rateLimit\.refresh\.perIp\.limit/);
  });

  it('per device session: 429 with Retry-After that leaves the session alone; the same cookie works once the window has passed', async () => {
    t = await startTestBff({ rateLimit: { refresh: { perSession: { limit: 3, windowMs: 1000 } } } });
    const device = await login(t.app);
    const other = await login(t.app, 'bob');
    for (let i = 0; i < 3; i++) expect((await refresh(t.app, device)).status).toBe(200);
    const limited = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.headers['set-cookie']).toBeUndefined(); // the cookie is not cleared
    // Another session is not affected.
    expect((await refresh(t.app, other)).status).toBe(200);
    // The session lives on: the same cookie refreshes once the window has passed.
    await expect.poll(async () => (await refresh(t.app, device)).status, { timeout: 15_000, interval: 200 }).toBe(200);
    await t.close();
  });

  it('per client IP', async () => {
    t = await startTestBff({ rateLimit: { refresh: { perIp: { limit: 3, windowMs: 60_000 } } } });
    t.app.set('trust proxy', 'loopback');
    const from = (ip: string, cookie: string | null) => call(t.app, 'post', '/auth/refresh', { cookie, headers: { 'X-Forwarded-For': ip } });
    const devices = [await login(t.app), await login(t.app, 'bob'), await login(t.app)];
    for (const d of devices) expect((await from('192.0.2.50', d.cookie)).status).toBe(200);
    const limited = await from('192.0.2.50', null); // counted before the cookie is even read
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const fresh = await login(t.app, 'bob');
    expect((await from('192.0.2.51', fresh.cookie)).status).toBe(200);
    await t.close();
  });
});
