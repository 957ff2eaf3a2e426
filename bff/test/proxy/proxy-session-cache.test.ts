import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startRedisServer, type RedisServer } from '@latchkey/testkit';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { DeviceSessionRecord, SessionStore } from '../../src/store/types.js';
import { call, login, sessionCookie, startTestBff, type TestBff, type TestBffOverrides } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

/**
 * bff.proxy's cookie resolution from memory (session-cache.ts), on real stores: a proxied call that is not due for
 * rotation or activity reads no store, and nothing the store would have refused is served from memory.
 */

/** A memory store whose revocation log can hold its news back for a while (a busy Redis, a slow network). */
class SlowFeedStore extends MemoryStore {
  feedDelayMs = 0;
  override async readRevocations(...args: Parameters<MemoryStore['readRevocations']>) {
    const batch = await super.readRevocations(...args);
    if (this.feedDelayMs > 0 && batch.events.length > 0) await new Promise((r) => setTimeout(r, this.feedDelayMs));
    return batch;
  }
}

let upstream: Server;
let upstreamUrl: string;
const running: TestBff[] = [];

beforeAll(async () => {
  const app = express();
  app.get('/v1/ok', (_req, res) => void res.json({ ok: true }));
  upstream = createServer(app);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise((resolve) => upstream.close(resolve)));
afterEach(async () => {
  for (const t of running.splice(0)) await t.close();
});

/** Counts the session reads and rotations the store is asked for (the real store answers them). */
function countCalls(store: SessionStore) {
  const reads = vi.spyOn(store, 'getSession');
  const rotations = vi.spyOn(store, 'rotate');
  return {
    get reads() {
      return reads.mock.calls.length;
    },
    get rotations() {
      return rotations.mock.calls.length;
    },
    reset() {
      reads.mockClear();
      rotations.mockClear();
    },
  };
}

async function startInstance(store: SessionStore, clock: TestClock, overrides: TestBffOverrides = {}): Promise<TestBff> {
  const t = await startTestBff({ clock, ...overrides }, store);
  running.push(t);
  t.app.use('/p', t.bff.proxy({ target: upstreamUrl, token: 'none' }));
  return t;
}

const proxied = (t: TestBff, cookie: string) => call(t.app, 'get', '/p/ok', { cookie });

/** Follows a rotation the answer carries, as the browser would. */
function follow(device: { cookie: string }, res: { headers: Record<string, unknown> }): void {
  device.cookie = sessionCookie(res as never) ?? device.cookie;
}

describe('bff.proxy session cache (memory store)', () => {
  async function setup(overrides: TestBffOverrides = {}) {
    const clock = new TestClock();
    const store = new SlowFeedStore({ clock });
    const t = await startInstance(store, clock, overrides);
    return { t, store, clock, calls: countCalls(store) };
  }

  it('answers a cookie it resolved recently without a store read, for session.readCacheSeconds', async () => {
    const { t, clock, calls } = await setup({ session: { readCacheSeconds: 5 } });
    const device = await login(t.app);
    calls.reset();
    expect((await proxied(t, device.cookie)).status).toBe(200);
    expect(calls.reads).toBe(1);
    for (let i = 0; i < 5; i++) expect((await proxied(t, device.cookie)).status).toBe(200);
    clock.advance(4_999);
    expect((await proxied(t, device.cookie)).status).toBe(200);
    expect(calls.reads).toBe(1);
    clock.advance(1);
    expect((await proxied(t, device.cookie)).status).toBe(200);
    expect(calls.reads).toBe(2);
    expect(calls.rotations).toBe(0);
  });

  it('reads the store on every call with session.readCacheSeconds 0', async () => {
    const { t, calls } = await setup({ session: { readCacheSeconds: 0 } });
    const device = await login(t.app);
    calls.reset();
    for (let i = 0; i < 3; i++) expect((await proxied(t, device.cookie)).status).toBe(200);
    expect(calls.reads).toBe(3);
  });

  it('rotates and records activity on schedule although the cookie is cached; the old cookie is not served from memory after', async () => {
    const { t, store, clock, calls } = await setup({ session: { proxyRotationSeconds: 60, readCacheSeconds: 15 } });
    const device = await login(t.app);
    const first = device.cookie;
    const signedInAt = clock.now();
    clock.advance(50_000);
    expect((await proxied(t, device.cookie)).status).toBe(200);
    calls.reset();
    clock.advance(10_000);
    // Cached (until +15 s), but the recorded activity is 60 s old: the store rotates, and records this call as activity.
    const due = await proxied(t, device.cookie);
    expect(due.status).toBe(200);
    follow(device, due);
    expect(device.cookie).not.toBe(first);
    expect(calls.rotations).toBe(1);
    const [record] = await store.listUserSessions('user-alice', clock.now());
    expect(record!.lastActivityAt).toBe(signedInAt + 60_000);
    // The new cookie: one read, then memory.
    calls.reset();
    for (let i = 0; i < 3; i++) expect(sessionCookie(await proxied(t, device.cookie))).toBeNull();
    expect(calls).toMatchObject({ reads: 1, rotations: 0 });
    // A call still carrying the previous cookie (a request in flight during the rotation) meets the store's grace
    // rule, not a stale memory of its being current.
    calls.reset();
    expect((await proxied(t, first)).status).toBe(200);
    expect(calls.reads).toBe(1);
    const metrics = await t.bff.metrics.registry.getSingleMetricAsString('latchkey_theft_detections_total');
    expect(metrics).toMatch(/latchkey_theft_detections_total 0/);
  });

  it('a page that keeps calling from memory stays signed in past the idle timeout (activity is recorded at each rotation)', async () => {
    const { t, clock, calls } = await setup({ session: { idleTimeoutSeconds: 120, proxyRotationSeconds: 60, readCacheSeconds: 15 } });
    const device = await login(t.app);
    calls.reset();
    for (let second = 5; second <= 600; second += 5) {
      clock.advance(5_000);
      const res = await proxied(t, device.cookie);
      expect(res.status).toBe(200);
      follow(device, res);
    }
    // 120 calls over 10 minutes: a store read every 15 s at most, a rotation (with activity) every minute.
    expect(calls.reads).toBeLessThanOrEqual(45);
    expect(calls.rotations).toBe(10);
  });

  it('the idle timeout ends a session whose last calls were served from memory, once it goes quiet', async () => {
    const { t, clock } = await setup({ session: { idleTimeoutSeconds: 120, proxyRotationSeconds: 60, readCacheSeconds: 15 } });
    const device = await login(t.app);
    for (let i = 0; i < 5; i++) {
      clock.advance(10_000);
      expect((await proxied(t, device.cookie)).status).toBe(200);
    }
    clock.advance(70_000);
    const ended = await proxied(t, device.cookie);
    expect(ended.status).toBe(401);
    expect(ended.body.error).toBe('session_expired');
  });

  it("this process's logout, device revoke, logout-all and theft refuse a cached cookie on the very next call, before the log's news arrives", async () => {
    const { t, store, clock } = await setup({ session: { rotationGraceSeconds: 1, readCacheSeconds: 1, proxyRotationSeconds: 60 } });
    const phone = await login(t.app, 'alice', 'Phone');
    const laptop = await login(t.app, 'alice', 'Laptop');
    const tablet = await login(t.app, 'alice', 'Tablet');
    for (const d of [phone, laptop, tablet]) expect((await proxied(t, d.cookie)).status).toBe(200);
    // The revocation view cannot tell: only this process's own record of what it ended can.
    store.feedDelayMs = 2000;

    expect((await call(t.app, 'post', '/auth/logout', { cookie: phone.cookie })).status).toBe(204);
    expect((await proxied(t, phone.cookie)).body.error).toBe('no_session');

    expect((await call(t.app, 'delete', `/auth/sessions/${laptop.sid}`, { cookie: tablet.cookie })).status).toBe(204);
    expect((await proxied(t, laptop.cookie)).body.error).toBe('session_revoked');

    const desktop = await login(t.app, 'alice', 'Desktop');
    expect((await call(t.app, 'post', '/auth/logout-all', { cookie: desktop.cookie })).status).toBe(204);
    expect((await proxied(t, tablet.cookie)).body.error).toBe('session_revoked');

    // Theft: the cookie before a rotation, presented past the grace window, while its successor is cached.
    const victim = await login(t.app, 'bob', 'Victim');
    const stolen = victim.cookie;
    clock.advance(60_000);
    follow(victim, await proxied(t, victim.cookie));
    expect(victim.cookie).not.toBe(stolen);
    clock.advance(1_001);
    expect((await proxied(t, victim.cookie)).status).toBe(200);
    expect((await proxied(t, victim.cookie)).status).toBe(200);
    expect((await proxied(t, stolen)).body.error).toBe('reuse_detected');
    expect((await proxied(t, victim.cookie)).body.error).toBe('reuse_detected');
  });
});

/** Two BFF instances (A, B) on one store; A's proxy has the cookie cached when B ends the session. */
function acrossInstances(name: string, connect: (clock: TestClock) => Promise<[SessionStore, SessionStore]>, clockOf: () => TestClock) {
  describe(`bff.proxy session cache across instances (${name})`, () => {
    const settings: TestBffOverrides = { session: { readCacheSeconds: 15, rotationGraceSeconds: 15, proxyRotationSeconds: 60 } };

    async function setup() {
      const clock = clockOf();
      const [storeA, storeB] = await connect(clock);
      const a = await startInstance(storeA, clock, settings);
      const b = await startInstance(storeB, clock, settings);
      return { a, b, clock, callsA: countCalls(storeA) };
    }

    /** A cached on A: its next call reads no store. */
    async function warm(a: TestBff, cookie: string, calls: ReturnType<typeof countCalls>) {
      expect((await proxied(a, cookie)).status).toBe(200);
      calls.reset();
      expect((await proxied(a, cookie)).status).toBe(200);
      expect(calls).toMatchObject({ reads: 0, rotations: 0 });
    }

    /** The live session's record, read before it ends (the revocation view is asked by sid, user and creation time). */
    async function recordOf(t: TestBff, sid: string, clock: TestClock): Promise<DeviceSessionRecord> {
      return (await t.store.listUserSessions('user-alice', clock.now())).find((s) => s.sid === sid)!;
    }

    /** Waits until A's revocation view knows the session ended (what its guard consults), without a proxied call. */
    async function viewKnows(a: TestBff, s: DeviceSessionRecord) {
      await expect.poll(() => a.bff.guard.isSessionRevoked(s.sid, s.userId, s.createdAt, s.tenant), { timeout: 3000, interval: 5 }).toBe(true);
    }

    const ENDS: Array<[string, (b: TestBff, victim: { cookie: string; sid: string }, other: { cookie: string }) => Promise<void>, string]> = [
      ['logout', async (b, victim) => void expect((await call(b.app, 'post', '/auth/logout', { cookie: victim.cookie })).status).toBe(204), 'no_session'],
      [
        'a device revoke',
        async (b, victim, other) => void expect((await call(b.app, 'delete', `/auth/sessions/${victim.sid}`, { cookie: other.cookie })).status).toBe(204),
        'session_revoked',
      ],
      [
        'logout-all',
        async (b, _victim, other) => void expect((await call(b.app, 'post', '/auth/logout-all', { cookie: other.cookie })).status).toBe(204),
        'session_revoked',
      ],
    ];

    it.each(ENDS)("%s on B refuses A's cached cookie on the next proxied call once A's view knows", async (_name, end, code) => {
      const { a, b, clock, callsA } = await setup();
      const victim = await login(a.app, 'alice', 'Victim');
      const other = await login(b.app, 'alice', 'Other');
      await warm(a, victim.cookie, callsA);
      const record = await recordOf(a, victim.sid, clock);
      await end(b, victim, other);
      await viewKnows(a, record);
      const res = await proxied(a, victim.cookie);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe(code);
    });

    it("theft found on B refuses A's cached successor on the next proxied call once A's view knows", async () => {
      const { a, b, clock, callsA } = await setup();
      const victim = await login(a.app, 'alice', 'Victim');
      const stolen = victim.cookie;
      clock.advance(60_000);
      follow(victim, await proxied(a, victim.cookie));
      expect(victim.cookie).not.toBe(stolen);
      clock.advance(15_001);
      await warm(a, victim.cookie, callsA);
      const record = await recordOf(a, victim.sid, clock);
      expect((await call(b.app, 'post', '/auth/refresh', { cookie: stolen })).body.error).toBe('reuse_detected');
      await viewKnows(a, record);
      const res = await proxied(a, victim.cookie);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('reuse_detected');
    });

    it('a rotation B made is seen by A: the previous cookie within the grace window, never a false theft', async () => {
      const { a, b, clock, callsA } = await setup();
      const device = await login(a.app);
      const before = device.cookie;
      clock.advance(50_000);
      await warm(a, before, callsA);
      clock.advance(10_000);
      follow(device, await proxied(b, device.cookie));
      expect(device.cookie).not.toBe(before);
      // A's entry for the old cookie is due (its activity is 60 s old): A asks the store, which replays the successor.
      const replay = await proxied(a, before);
      expect(replay.status).toBe(200);
      expect(sessionCookie(replay)).toBe(device.cookie);
      expect((await proxied(a, device.cookie)).status).toBe(200);
      for (const t of [a, b]) {
        const metrics = await t.bff.metrics.registry.getSingleMetricAsString('latchkey_theft_detections_total');
        expect(metrics).toMatch(/latchkey_theft_detections_total 0/);
      }
    });
  });
}

acrossInstances(
  'memory',
  async (clock) => {
    const store = new MemoryStore({ clock });
    return [store, store];
  },
  () => new TestClock(),
);

let redis: RedisServer | undefined;
let prefixes = 0;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});
acrossInstances(
  'Redis',
  async () => {
    // Each test its own keys; A and B have their own connections, as two processes would.
    const prefix = `proxy-cache-${process.pid}-${++prefixes}:`;
    return [await RedisStore.connect({ url: redis!.url, prefix }), await RedisStore.connect({ url: redis!.url, prefix })];
  },
  // Beside Redis, whose own clock runs on: real time plus what a test advances.
  () => TestClock.running(),
);
