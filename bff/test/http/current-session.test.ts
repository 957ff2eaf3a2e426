import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { call, login, rawSetCookie, refresh, sessionCookie, startTestBff, type TestBff, type TestBffOverrides } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

let t: TestBff;
afterEach(() => t.close());

async function withClock(overrides: TestBffOverrides = {}) {
  const clock = new TestClock();
  t = await startTestBff({ clock, ...overrides }, new MemoryStore({ clock }));
  return clock;
}

describe('GET /auth/session', () => {
  it('answers the user and device session of the cookie, and no token', async () => {
    await withClock();
    const device = await login(t.app, 'alice', 'Laptop');
    const res = await call(t.app, 'get', '/auth/session', { cookie: device.cookie });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ user: { id: 'user-alice', name: 'Alice' }, session: { id: device.sid, deviceName: 'Laptop', createdAt: expect.any(Number) } });
    expect(res.text).not.toContain('eyJ');
    // Not yet due for rotation: the cookie stays as it is.
    expect(rawSetCookie(res)).toBe('');
  });

  it('answers 401 no_session without a session, and follows the cookie routes’ X-CSRF and Origin rules', async () => {
    await withClock();
    const none = await call(t.app, 'get', '/auth/session');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error: 'no_session', message: expect.any(String) });
    const device = await login(t.app);
    const noCsrf = await call(t.app, 'get', '/auth/session', { cookie: device.cookie, csrf: false });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error).toBe('csrf_rejected');
    const foreign = await call(t.app, 'get', '/auth/session', { cookie: device.cookie, headers: { Origin: 'https://evil.example' } });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toBe('csrf_rejected');
  });

  it('answers the refresh route’s session-ending codes and clears the cookie', async () => {
    await withClock();
    const device = await login(t.app);
    await call(t.app, 'post', '/auth/logout-all', { cookie: device.cookie });
    const res = await call(t.app, 'get', '/auth/session', { cookie: device.cookie });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('session_revoked');
    expect(rawSetCookie(res)).toMatch(/latchkey=;/);
  });

  it('accepts the previous cookie within the grace window; a superseded one is theft', async () => {
    const clock = await withClock();
    const device = await login(t.app);
    const first = device.cookie;
    await refresh(t.app, device);
    expect((await call(t.app, 'get', '/auth/session', { cookie: first })).status).toBe(200);
    clock.advance(16_000);
    await refresh(t.app, device);
    const stolen = await call(t.app, 'get', '/auth/session', { cookie: first });
    expect(stolen.status).toBe(401);
    expect(stolen.body.error).toBe('reuse_detected');
    expect((await call(t.app, 'get', '/auth/session', { cookie: device.cookie })).body.error).toBe('reuse_detected');
  });

  it('slides the credential once it is session.proxyRotationSeconds old: the new cookie works, the old one within grace', async () => {
    const clock = await withClock({ session: { proxyRotationSeconds: 60 } });
    const device = await login(t.app);
    clock.advance(60_000);
    const [a, b] = await Promise.all([
      call(t.app, 'get', '/auth/session', { cookie: device.cookie }),
      call(t.app, 'get', '/auth/session', { cookie: device.cookie }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const next = sessionCookie(a)!;
    expect(next).not.toBe(device.cookie);
    // A concurrent call with the same cookie gets the same successor (a replay) or, when it arrives after the rotation,
    // is answered as the previous credential within grace and sets nothing: never a second successor, never theft.
    expect([next, null]).toContain(sessionCookie(b));
    expect((await call(t.app, 'get', '/auth/session', { cookie: device.cookie })).status).toBe(200);
    const fresh = await call(t.app, 'get', '/auth/session', { cookie: next });
    expect(fresh.status).toBe(200);
    expect(rawSetCookie(fresh)).toBe('');
  });

  it('with tokens.browser: false, login answers no token and POST /refresh is not served', async () => {
    await withClock({ tokens: { browser: false } });
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ user: { id: 'user-alice', name: 'Alice' }, session: expect.objectContaining({ id: expect.any(String) }) });
    expect(res.text).not.toContain('eyJ');
    const cookie = sessionCookie(res)!;
    const refreshed = await call(t.app, 'post', '/auth/refresh', { cookie });
    expect(refreshed.status).toBe(404);
    expect(refreshed.text).not.toContain('eyJ');
    expect((await call(t.app, 'get', '/auth/session', { cookie })).status).toBe(200);
  });

  it('refuses a rotation schedule inside the grace window', async () => {
    await expect(startTestBff({ session: { proxyRotationSeconds: 15 } })).rejects.toThrow(
      /session\.proxyRotationSeconds must be greater than session\.rotationGraceSeconds/,
    );
  });
});
