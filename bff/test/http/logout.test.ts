import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, login, me, rawSetCookie, refresh, startTestBff, type TestBff } from '../helpers/harness.js';

let t: TestBff;
beforeEach(async () => {
  t = await startTestBff();
});
afterEach(() => t.close());

describe('POST /auth/logout', () => {
  it('ends this device only: its token stops working at once, other devices go on', async () => {
    const laptop = await login(t.app, 'alice', 'Laptop');
    const phone = await login(t.app, 'alice', 'Phone');
    const res = await call(t.app, 'post', '/auth/logout', { cookie: laptop.cookie });
    expect(res.status).toBe(204);
    expect(rawSetCookie(res)).toMatch(/^__Host-latchkey=; Max-Age=0;/);
    expect((await me(t.app, laptop.token)).status).toBe(401);
    const again = await call(t.app, 'post', '/auth/refresh', { cookie: laptop.cookie });
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('no_session');
    expect((await me(t.app, phone.token)).status).toBe(200);
    expect((await refresh(t.app, phone)).status).toBe(200);
  });

  it('does not let a superseded cookie (a copy someone kept) end the session', async () => {
    const device = await login(t.app);
    const old = device.cookie;
    await refresh(t.app, device);
    await refresh(t.app, device);
    expect((await call(t.app, 'post', '/auth/logout', { cookie: old })).status).toBe(204);
    expect((await me(t.app, device.token)).status).toBe(200);
    expect((await refresh(t.app, device)).status).toBe(200);
  });

  it('is idempotent: 204 without a cookie and for an already ended session', async () => {
    const device = await login(t.app);
    expect((await call(t.app, 'post', '/auth/logout')).status).toBe(204);
    expect((await call(t.app, 'post', '/auth/logout', { cookie: device.cookie })).status).toBe(204);
    expect((await call(t.app, 'post', '/auth/logout', { cookie: device.cookie })).status).toBe(204);
  });
});

describe('POST /auth/logout-all', () => {
  it('ends every device of the user: sessions gone, every token issued before rejected', async () => {
    const laptop = await login(t.app, 'alice', 'Laptop');
    const phone = await login(t.app, 'alice', 'Phone');
    const bob = await login(t.app, 'bob');
    const res = await call(t.app, 'post', '/auth/logout-all', { cookie: laptop.cookie });
    expect(res.status).toBe(204);
    expect(rawSetCookie(res)).toMatch(/Max-Age=0/);
    expect(await t.store.listUserSessions('user-alice', Date.now())).toEqual([]);
    for (const device of [laptop, phone]) {
      expect((await me(t.app, device.token)).status).toBe(401);
      const r = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie });
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('session_revoked');
    }
    // Another user is untouched.
    expect((await me(t.app, bob.token)).status).toBe(200);
  });

  it('answers 401 without a session', async () => {
    const res = await call(t.app, 'post', '/auth/logout-all');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('no_session');
  });

  it('lets a login right after it (same second) work', async () => {
    for (let i = 0; i < 5; i++) {
      const old = await login(t.app);
      expect((await call(t.app, 'post', '/auth/logout-all', { cookie: old.cookie })).status).toBe(204);
      const fresh = await login(t.app);
      expect((await me(t.app, old.token)).status).toBe(401);
      expect((await me(t.app, fresh.token)).status).toBe(200);
      expect((await refresh(t.app, fresh)).status).toBe(200);
      expect((await me(t.app, fresh.token)).status).toBe(200);
    }
  });

  it('racing a concurrent login: the new session is either ended with everything or fully working', async () => {
    for (let i = 0; i < 10; i++) {
      const old = await login(t.app);
      const [, loginRes] = await Promise.all([
        call(t.app, 'post', '/auth/logout-all', { cookie: old.cookie }),
        call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } }),
      ]);
      expect(loginRes.status).toBe(200);
      const live = (await t.store.listUserSessions('user-alice', Date.now())).map((s) => s.sid);
      const token = loginRes.body.accessToken as string;
      expect((await me(t.app, old.token)).status).toBe(401);
      if (live.includes(loginRes.body.session.id)) {
        expect((await me(t.app, token)).status).toBe(200);
      } else {
        expect((await me(t.app, token)).status).toBe(401);
      }
      await call(t.app, 'post', '/auth/logout-all', { cookie: undefined });
      for (const s of live) await t.store.endUserSessionBySid('user-alice', s, 'logout', Date.now(), 1000);
    }
  });
});

describe('POST /auth/logout-others', () => {
  it('ends every other device of the user in one operation, keeps this one (token, cookie, refresh) and other users', async () => {
    const laptop = await login(t.app, 'alice', 'Laptop');
    const phone = await login(t.app, 'alice', 'Phone');
    const tablet = await login(t.app, 'alice', 'Tablet');
    const bob = await login(t.app, 'bob');
    const res = await call(t.app, 'post', '/auth/logout-others', { cookie: laptop.cookie });
    expect(res.status).toBe(204);
    // This device keeps its cookie: nothing is set or cleared.
    expect(res.headers['set-cookie']).toBeUndefined();
    expect((await t.store.listUserSessions('user-alice', Date.now())).map((s) => s.sid)).toEqual([laptop.sid]);
    for (const device of [phone, tablet]) {
      expect((await me(t.app, device.token)).status).toBe(401);
      const r = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie });
      expect({ status: r.status, error: r.body.error }).toEqual({ status: 401, error: 'session_revoked' });
    }
    expect((await me(t.app, laptop.token)).status).toBe(200);
    expect((await refresh(t.app, laptop)).status).toBe(200);
    expect((await me(t.app, bob.token)).status).toBe(200);
    expect(t.logLines.find((l) => l.includes('"logout_others"'))).toMatch(/"sessions":2/);
    expect(await t.bff.metrics.registry.getSingleMetricAsString('latchkey_logouts_total')).toContain('latchkey_logouts_total{reason="logout_others"} 2');
  });

  it('answers 401 no_session without a live session, and for a superseded cookie, ending nothing', async () => {
    const device = await login(t.app, 'alice', 'Laptop');
    const other = await login(t.app, 'alice', 'Phone');
    const none = await call(t.app, 'post', '/auth/logout-others');
    expect({ status: none.status, body: none.body }).toEqual({ status: 401, body: { error: 'no_session', message: expect.any(String) } });
    const old = device.cookie;
    await refresh(t.app, device);
    await refresh(t.app, device);
    expect((await call(t.app, 'post', '/auth/logout-others', { cookie: old })).status).toBe(401);
    expect((await t.store.listUserSessions('user-alice', Date.now())).map((s) => s.sid).sort()).toEqual([device.sid, other.sid].sort());
  });

  it('with no other device: 204, nothing ends', async () => {
    const device = await login(t.app);
    expect((await call(t.app, 'post', '/auth/logout-others', { cookie: device.cookie })).status).toBe(204);
    expect((await me(t.app, device.token)).status).toBe(200);
  });
});
