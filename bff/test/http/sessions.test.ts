import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import { call, login, me, refresh, startTestBff, type TestBff } from '../helpers/harness.js';
import { type RedisServer, startRedisServer } from '@latchkey/testkit';

let redis: RedisServer | undefined;

let t: TestBff;
beforeEach(async () => {
  t = await startTestBff();
});
afterEach(() => t.close());

describe('GET /auth/sessions', () => {
  it("lists the caller's devices with public fields only and marks the current one", async () => {
    const laptop = await login(t.app, 'alice', 'Laptop');
    const phone = await login(t.app, 'alice', 'Phone');
    await login(t.app, 'bob');
    const res = await call(t.app, 'get', '/auth/sessions', { cookie: phone.cookie, headers: { 'User-Agent': 'test-agent' } });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.sessions).toHaveLength(2);
    expect(res.body.sessions.map((s: { id: string }) => s.id)).toEqual([laptop.sid, phone.sid]);
    for (const s of res.body.sessions) {
      expect(Object.keys(s).sort()).toEqual(['createdAt', 'current', 'deviceName', 'id', 'lastActiveAt', 'userAgent']);
    }
    expect(res.body.sessions.map((s: { current: boolean }) => s.current)).toEqual([false, true]);
    expect(res.body.sessions.map((s: { deviceName: string }) => s.deviceName)).toEqual(['Laptop', 'Phone']);
  });

  it('answers 401 without a session', async () => {
    const res = await call(t.app, 'get', '/auth/sessions');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('no_session');
  });

  it('names a device from its User-Agent when no device name is given', async () => {
    const res = await call(t.app, 'post', '/auth/login', {
      body: { username: 'alice', password: 'wonderland' },
      headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36' },
    });
    expect(res.body.session.deviceName).toBe('Chrome on Linux');
  });
});

describe('DELETE /auth/sessions/:id', () => {
  it('signs another of my devices out: its token and cookie stop working', async () => {
    const laptop = await login(t.app, 'alice', 'Laptop');
    const phone = await login(t.app, 'alice', 'Phone');
    const res = await call(t.app, 'delete', `/auth/sessions/${phone.sid}`, { cookie: laptop.cookie });
    expect(res.status).toBe(204);
    expect((await me(t.app, phone.token)).status).toBe(401);
    const r = await call(t.app, 'post', '/auth/refresh', { cookie: phone.cookie });
    expect(r.body.error).toBe('session_revoked');
    expect((await me(t.app, laptop.token)).status).toBe(200);
    expect((await refresh(t.app, laptop)).status).toBe(200);
  });

  it("answers 404 for another user's session and changes nothing", async () => {
    const alice = await login(t.app, 'alice');
    const bob = await login(t.app, 'bob');
    const res = await call(t.app, 'delete', `/auth/sessions/${bob.sid}`, { cookie: alice.cookie });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', message: 'No such session.' });
    expect((await me(t.app, bob.token)).status).toBe(200);
    expect((await refresh(t.app, bob)).status).toBe(200);
  });

  it('answers 404 for an unknown or malformed id, 401 without a session', async () => {
    const alice = await login(t.app);
    expect((await call(t.app, 'delete', '/auth/sessions/does-not-exist', { cookie: alice.cookie })).status).toBe(404);
    expect((await call(t.app, 'delete', `/auth/sessions/${'%20'.repeat(3)}`, { cookie: alice.cookie })).status).toBe(404);
    expect((await call(t.app, 'delete', `/auth/sessions/${alice.sid}`)).status).toBe(401);
  });

  it('revoking the current session clears the cookie', async () => {
    const alice = await login(t.app);
    const res = await call(t.app, 'delete', `/auth/sessions/${alice.sid}`, { cookie: alice.cookie });
    expect(res.status).toBe(204);
    expect(String(res.headers['set-cookie'])).toMatch(/Max-Age=0/);
    expect((await me(t.app, alice.token)).status).toBe(401);
  });
});

describe('errors', () => {
  it('answers unknown BFF routes with 404 not_found in the error shape', async () => {
    const res = await call(t.app, 'get', '/auth/nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', message: 'Not found.' });
  });
});

describe.each([
  ['memory', async () => new MemoryStore({ warnInProduction: false }), async (): Promise<void> => undefined],
  [
    'Redis',
    async () => {
      redis ??= await startRedisServer();
      return RedisStore.connect({ url: redis.url, prefix: `cap-${randomUUID()}:` });
    },
    async () => {
      await redis?.stop();
      redis = undefined;
    },
  ],
] as const)('session.maxPerUser (%s store)', (_name, makeStore, cleanup) => {
  let capped: TestBff;
  beforeEach(async () => {
    capped = await startTestBff({ session: { maxPerUser: 3 } }, await makeStore());
  });
  afterEach(() => capped.close());
  afterAll(cleanup);

  it('a login beyond the cap signs the least recently active device out: its tokens and cookie stop working at once', async () => {
    const devices = [];
    for (let i = 0; i < 5; i++) devices.push(await login(capped.app, 'alice', `Device ${i}`));
    const [first, second, ...kept] = devices;

    const res = await call(capped.app, 'get', '/auth/sessions', { cookie: kept[0]!.cookie });
    expect(res.body.sessions.map((s: { id: string }) => s.id)).toEqual(kept.map((d) => d.sid));
    for (const evicted of [first!, second!]) {
      await expect.poll(async () => (await me(capped.app, evicted.token)).status, { timeout: 3000, interval: 10 }).toBe(401);
      const refused = await call(capped.app, 'post', '/auth/refresh', { cookie: evicted.cookie });
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('session_revoked');
    }
    for (const device of kept) expect((await me(capped.app, device.token)).status).toBe(200);
    expect(capped.logLines.filter((l) => l.includes('"event":"session_evicted"'))).toHaveLength(2);
    expect(await capped.bff.metrics.registry.getSingleMetricAsString('latchkey_logouts_total')).toMatch(/reason="cap_evicted"} 2/);
  });
});

describe('session.maxPerUser option', () => {
  it('defaults to 50 and rejects a non-positive or fractional cap', async () => {
    const { resolveBffOptions } = await import('../../src/options.js');
    const base = {
      store: new MemoryStore({ warnInProduction: false }),
      secrets: ['x'.repeat(32)],
      tokens: { issuer: 'https://a.test' },
      authenticate: async () => null,
    };
    expect(resolveBffOptions(base).session.maxPerUser).toBe(50);
    expect(() => resolveBffOptions({ ...base, session: { maxPerUser: 0 } })).toThrow(/session\.maxPerUser/);
    expect(() => resolveBffOptions({ ...base, session: { maxPerUser: 2.5 } })).toThrow(/session\.maxPerUser/);
  });
});
