import { decodeJwt } from 'jose';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { call, login, sessionCookie, startTestBff, USERS, type TestBff, type TestBffOverrides } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

let t: TestBff;
let clock: TestClock;
afterEach(() => t?.close());

async function start(overrides: TestBffOverrides = {}) {
  clock = new TestClock();
  t = await startTestBff({ clock, ...overrides }, new MemoryStore({ clock }));
  t.app.get('/api/recent', t.bff.requireAuth({ maxAuthAgeSeconds: 60 }), (req, res) => void res.json({ sid: req.auth!.sid }));
  t.app.get('/api/gold', t.bff.requireAuth({ acrValues: ['urn:gold'] }), (req, res) => void res.json({ acr: req.auth!.acr }));
  // Registered after the harness's error handler: give these routes their own.
  t.app.use(t.bff.errorHandler);
  return t;
}

const get = (path: string, token: string) => request(t.app).get(path).set('Authorization', `Bearer ${token}`);
const reauthenticate = (cookie: string | null, password: string) => call(t.app, 'post', '/auth/reauthenticate', { cookie, body: { password } });

describe('authentication time and strength in access tokens', () => {
  it('stamps auth_time and amr ["pwd"] at a password login, and carries them through refreshes', async () => {
    await start();
    const device = await login(t.app);
    const claims = decodeJwt(device.token);
    expect(claims.auth_time).toBe(Math.floor(clock.now() / 1000));
    expect(claims.amr).toEqual(['pwd']);
    expect(claims).not.toHaveProperty('acr');
    clock.advance(120_000);
    const refreshed = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie });
    expect(decodeJwt(refreshed.body.accessToken as string).auth_time).toBe(claims.auth_time);
  });

  it('takes acr and amr from authenticate, and refuses a bad one before anything changes', async () => {
    await start({
      authenticate: async (username) =>
        username === 'alice' ? { id: 'user-alice', name: 'Alice', acr: 'urn:gold', amr: ['pwd', 'otp'] } : { id: 'user-bob', name: 'Bob', acr: 'bad acr' },
    });
    const alice = await login(t.app);
    expect(decodeJwt(alice.token)).toMatchObject({ acr: 'urn:gold', amr: ['pwd', 'otp'] });
    expect((await get('/api/gold', alice.token)).status).toBe(200);
    const bob = await call(t.app, 'post', '/auth/login', { body: { username: 'bob', password: 'x' } });
    expect(bob.status).toBe(500);
    expect(await t.store.listUserSessions('user-bob', clock.now())).toEqual([]);
  });
});

describe('requireAuth step-up (RFC 9470)', () => {
  it('answers 401 insufficient_user_authentication with max_age once the authentication is older than maxAuthAgeSeconds', async () => {
    await start();
    const device = await login(t.app);
    expect((await get('/api/recent', device.token)).status).toBe(200);
    clock.advance(61_000);
    const res = await get('/api/recent', device.token);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'insufficient_user_authentication', message: 'A more recent authentication is required.' });
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required.", max_age=60',
    );
    // A refresh does not make it recent: only an authentication does.
    const refreshed = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie });
    expect((await get('/api/recent', refreshed.body.accessToken as string)).status).toBe(401);
    // The token is still good where no step-up is asked.
    expect((await get('/api/me', device.token)).status).toBe(200);
  });

  it('answers acr_values when the token has no matching acr', async () => {
    await start();
    const device = await login(t.app);
    const res = await get('/api/gold', device.token);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'insufficient_user_authentication', message: 'A stronger authentication is required.' });
    expect(res.headers['www-authenticate']).toBe(
      'Bearer error="insufficient_user_authentication", error_description="A stronger authentication is required.", acr_values="urn:gold"',
    );
  });

  it('bff.verify takes the same options', async () => {
    await start();
    const device = await login(t.app);
    const headers = { authorization: `Bearer ${device.token}` };
    expect(await t.bff.verify(headers, { maxAuthAgeSeconds: 60 })).toMatchObject({ ok: true });
    clock.advance(61_000);
    const result = await t.bff.verify(headers, { maxAuthAgeSeconds: 60 });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe('insufficient_user_authentication');
  });

  it('refuses invalid step-up options when the route is declared', async () => {
    await start();
    expect(() => t.bff.requireAuth({ maxAuthAgeSeconds: -1 })).toThrow(/maxAuthAgeSeconds/);
    expect(() => t.bff.requireAuth({ acrValues: [] })).toThrow(/acrValues/);
    expect(() => t.bff.requireAuth({ acrValues: ['a"b'] })).toThrow(/acr value/);
  });
});

describe('POST /auth/reauthenticate', () => {
  it('re-stamps auth_time on the same device session, rotates the cookie and answers a fresh token', async () => {
    await start();
    const device = await login(t.app);
    clock.advance(61_000);
    expect((await get('/api/recent', device.token)).status).toBe(401);
    const res = await reauthenticate(device.cookie, USERS.alice!.password);
    expect(res.status).toBe(200);
    expect(res.body.session.id).toBe(device.sid);
    const claims = decodeJwt(res.body.accessToken as string);
    expect(claims).toMatchObject({ sid: device.sid, auth_time: Math.floor(clock.now() / 1000), amr: ['pwd'] });
    expect((await get('/api/recent', res.body.accessToken as string)).status).toBe(200);
    // The same session (one session, same sid), a new credential.
    const next = sessionCookie(res);
    expect(next).not.toBeNull();
    expect(next).not.toBe(device.cookie);
    expect((await t.store.listUserSessions('user-alice', clock.now())).map((s) => s.sid)).toEqual([device.sid]);
    const refreshed = await call(t.app, 'post', '/auth/refresh', { cookie: next });
    expect(refreshed.status).toBe(200);
    expect(decodeJwt(refreshed.body.accessToken as string).auth_time).toBe(claims.auth_time);
  });

  it('refuses a wrong password, and a password that authenticate says is another user’s, and changes nothing', async () => {
    await start({
      authenticate: async (username, password) => {
        if (username === 'alice' && password === 'wonderland') return { id: 'user-alice', name: 'Alice' };
        if (username === 'alice' && password === 'someone-else') return { id: 'user-mallory', name: 'Mallory' };
        return null;
      },
    });
    const device = await login(t.app);
    clock.advance(61_000);
    for (const password of ['wrong', 'someone-else']) {
      const res = await reauthenticate(device.cookie, password);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_credentials', message: 'Wrong password.' });
      expect(sessionCookie(res)).toBeNull();
    }
    const [session] = await t.store.listUserSessions('user-alice', clock.now());
    expect(session!.authTime).toBe(clock.now() - 61_000);
  });

  it('needs the session cookie, X-CSRF and a password', async () => {
    await start();
    const device = await login(t.app);
    expect((await reauthenticate(null, 'wonderland')).body.error).toBe('no_session');
    const noCsrf = await call(t.app, 'post', '/auth/reauthenticate', { cookie: device.cookie, body: { password: 'wonderland' }, csrf: false });
    expect(noCsrf.status).toBe(403);
    const bad = await call(t.app, 'post', '/auth/reauthenticate', { cookie: device.cookie, body: { password: 'wonderland', username: 'bob' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_request');
  });

  it('is counted like a login: failures on the account run into the limit', async () => {
    await start({ rateLimit: { login: { perAccountAndIp: { limit: 2, windowMs: 60_000 } } } });
    const device = await login(t.app);
    expect((await reauthenticate(device.cookie, 'wrong')).status).toBe(401);
    expect((await reauthenticate(device.cookie, 'wrong')).status).toBe(401);
    const limited = await reauthenticate(device.cookie, 'wonderland');
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('rate_limited');
  });

  it('answers { user, session } without browser tokens', async () => {
    await start({ tokens: { browser: false } });
    const res0 = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } });
    const res = await reauthenticate(sessionCookie(res0), 'wonderland');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user: { id: 'user-alice', name: 'Alice' },
      session: { id: res0.body.session.id, deviceName: expect.any(String), createdAt: expect.any(Number) },
    });
  });
});

describe('logout-all and logout-others may require a recent authentication', () => {
  it('is off by default', async () => {
    await start();
    const laptop = await login(t.app, 'alice', 'Laptop');
    await login(t.app, 'alice', 'Phone');
    clock.advance(1200_000);
    expect((await call(t.app, 'post', '/auth/logout-others', { cookie: laptop.cookie })).status).toBe(204);
    expect((await call(t.app, 'post', '/auth/logout-all', { cookie: laptop.cookie })).status).toBe(204);
  });

  it('answers insufficient_user_authentication past the bound and ends nothing; after re-authentication it goes through', async () => {
    await start({ session: { logoutAllMaxAuthAgeSeconds: 300, logoutOthersMaxAuthAgeSeconds: 600 } });
    const laptop = await login(t.app, 'alice', 'Laptop');
    await login(t.app, 'alice', 'Phone');
    clock.advance(301_000);
    const all = await call(t.app, 'post', '/auth/logout-all', { cookie: laptop.cookie });
    expect(all.status).toBe(401);
    expect(all.body.error).toBe('insufficient_user_authentication');
    expect(all.headers['www-authenticate']).toMatch(/max_age=300/);
    expect(sessionCookie(all)).toBeNull();
    expect(await t.store.listUserSessions('user-alice', clock.now())).toHaveLength(2);
    // logout-others has its own bound.
    clock.advance(300_000);
    const others = await call(t.app, 'post', '/auth/logout-others', { cookie: laptop.cookie });
    expect(others.status).toBe(401);
    expect(others.headers['www-authenticate']).toMatch(/max_age=600/);
    expect(await t.store.listUserSessions('user-alice', clock.now())).toHaveLength(2);

    const reauth = await reauthenticate(laptop.cookie, 'wonderland');
    expect(reauth.status).toBe(200);
    const cookie = sessionCookie(reauth);
    expect((await call(t.app, 'post', '/auth/logout-others', { cookie })).status).toBe(204);
    expect((await t.store.listUserSessions('user-alice', clock.now())).map((s) => s.sid)).toEqual([laptop.sid]);
    expect((await call(t.app, 'post', '/auth/logout-all', { cookie })).status).toBe(204);
  });
});

describe('POST /auth/reauthenticate without a username to check', () => {
  it('a session without a login name (stored before it was kept) is told to sign in again, and nothing changes', async () => {
    await start();
    const device = await login(t.app);
    const [session] = await t.store.listUserSessions('user-alice', clock.now());
    // As a session stored before re-authentication existed: the same record without loginName.
    const { loginName: _kept, ...old } = session!;
    await t.store.endSession(session!.key, 'logout', clock.now(), 0);
    await t.store.createSession({ ...old, key: session!.key });
    const res = await reauthenticate(device.cookie, 'wonderland');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', message: 'This session cannot re-authenticate: sign in again.' });
  });
});
