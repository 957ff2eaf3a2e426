import { randomUUID } from 'node:crypto';
import { startRedisServer, type RedisServer } from '@latchkey/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { SessionStore } from '../../src/store/types.js';
import { call, login, me, sessionCookie, startTestBff, type Device, type TestBff } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

const MINUTE = 60_000;
const IDLE_SECONDS = 30 * 60;

let redis: RedisServer | undefined;
afterAll(async () => {
  await redis?.stop();
});

/** POST /refresh with the activity body; updates the device on success. */
async function refreshIdle(t: TestBff, device: Device, body?: unknown) {
  const res = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie, ...(body === undefined ? {} : { body }) });
  if (res.status === 200) {
    device.cookie = sessionCookie(res)!;
    device.token = res.body.accessToken;
  }
  return res;
}

const stores: [string, (clock: TestClock) => Promise<SessionStore>][] = [
  ['memory', async (clock) => new MemoryStore({ clock })],
  [
    'redis',
    async () => {
      redis ??= await startRedisServer();
      return RedisStore.connect({ url: redis.url, prefix: `idle-${randomUUID()}:` });
    },
  ],
];

describe.each(stores)('idle timeout from real activity (%s store)', (storeName, openStore) => {
  let t: TestBff;
  let clock: TestClock;
  const start = async () => {
    clock = new TestClock();
    t = await startTestBff({ session: { idleTimeoutSeconds: IDLE_SECONDS }, clock }, await openStore(clock));
  };
  afterEach(async () => {
    await t.close();
  });

  it('a page refreshed every 5 minutes whose idle time keeps growing is signed out after the idle timeout; its tokens stop', async () => {
    await start();
    const device = await login(t.app);
    // Nobody touches the page after the login; its timer refreshes every 5 minutes and reports the truth.
    let idleSeconds = 0;
    for (let i = 0; i < 5; i++) {
      clock.advance(5 * MINUTE);
      idleSeconds += 5 * 60;
      expect((await refreshIdle(t, device, { idleSeconds })).status).toBe(200);
    }
    const lastToken = device.token;
    clock.advance(5 * MINUTE);
    idleSeconds += 5 * 60;
    // 30 minutes without activity: the idle end, however many refreshes came in between.
    const res = await refreshIdle(t, device, { idleSeconds });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'session_expired', message: expect.any(String) });
    expect(String(res.headers['set-cookie'])).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/);
    // Ended like a revocation (its sid event in the log, so its last access token stops at once), counted and logged.
    const { events } = await t.store.readRevocations(null, { blockMs: 0, count: 1000 });
    expect(events).toContainEqual(expect.objectContaining({ kind: 'sid', id: device.sid, reason: 'idle' }));
    // The guard compares a marker's expiry with the BFF's clock; Redis stamps it with its own, which this test's
    // frozen clock has left 30 minutes behind: the token check runs on the memory store only.
    if (storeName === 'memory') expect((await me(t.app, lastToken)).status).toBe(401);
    expect(await t.bff.metrics.registry.getSingleMetricAsString('latchkey_logouts_total')).toContain('latchkey_logouts_total{reason="idle"} 1');
    expect(t.logLines.some((line) => line.includes('"event":"session_expired"') && line.includes(device.sid))).toBe(true);
    expect((await refreshIdle(t, device)).status).toBe(401);
  });

  it('a page in use (idleSeconds 0 on every refresh) stays signed in past the idle timeout', async () => {
    await start();
    const device = await login(t.app);
    for (let i = 0; i < 12; i++) {
      clock.advance(5 * MINUTE);
      expect((await refreshIdle(t, device, { idleSeconds: 0 })).status).toBe(200);
    }
    // An hour in: the session list shows the last real use, not the login.
    const list = await call(t.app, 'get', '/auth/sessions', { cookie: device.cookie });
    expect(list.body.sessions[0].lastActiveAt).toBe(clock.now());
  });

  it('a refresh without a body counts as use now (older clients)', async () => {
    await start();
    const device = await login(t.app);
    for (let i = 0; i < 8; i++) {
      clock.advance(5 * MINUTE);
      expect((await refreshIdle(t, device)).status).toBe(200);
    }
  });

  it('activity reported by one tab is not undone by another tab that saw less', async () => {
    await start();
    const device = await login(t.app);
    clock.advance(20 * MINUTE);
    expect((await refreshIdle(t, device, { idleSeconds: 0 })).status).toBe(200);
    clock.advance(20 * MINUTE);
    // This tab saw nothing for 40 minutes, but the other tab's use 20 minutes ago counts.
    expect((await refreshIdle(t, device, { idleSeconds: 40 * 60 })).status).toBe(200);
  });

  it('a malformed body is 400 invalid_request and changes nothing (the cookie still refreshes)', async () => {
    await start();
    const device = await login(t.app);
    const before = device.cookie;
    for (const body of [{ idleSeconds: -1 }, { idleSeconds: 1.5 }, { idleSeconds: '5' }, { idleSeconds: 31 * 24 * 3600 }, { idle: 5 }, [1]]) {
      const res = await refreshIdle(t, device, body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: expect.stringContaining('idleSeconds') });
      expect(res.headers['set-cookie']).toBeUndefined();
    }
    expect(device.cookie).toBe(before);
    expect((await refreshIdle(t, device, {})).status).toBe(200);
  });
});
