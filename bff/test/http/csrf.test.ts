import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, login, startTestBff, type TestBff } from '../helpers/harness.js';

let t: TestBff;
beforeEach(async () => {
  t = await startTestBff();
});
afterEach(() => t.close());

const COOKIE_ROUTES = [
  ['post', '/auth/login'],
  ['post', '/auth/refresh'],
  ['post', '/auth/logout'],
  ['post', '/auth/logout-all'],
  ['post', '/auth/logout-others'],
  ['get', '/auth/sessions'],
  ['delete', '/auth/sessions/abc'],
] as const;

describe('CSRF defence on every cookie route', () => {
  it.each(COOKIE_ROUTES)('%s %s without X-CSRF: 403 csrf_rejected, nothing changes', async (method, path) => {
    const device = await login(t.app);
    const body = path === '/auth/login' ? { username: 'alice', password: 'wonderland' } : undefined;
    const res = await call(t.app, method, path, { cookie: device.cookie, csrf: false, body });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'csrf_rejected', message: 'The X-CSRF: 1 header is missing.' });
    expect((await t.store.listUserSessions('user-alice', Date.now())).map((s) => s.sid)).toEqual([device.sid]);
  });

  it.each(COOKIE_ROUTES)('%s %s from a foreign Origin: 403', async (method, path) => {
    const device = await login(t.app);
    const res = await call(t.app, method, path, { cookie: device.cookie, headers: { Origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({
      error: 'csrf_rejected',
      message: expect.stringMatching(/^Origin https:\/\/evil\.example is not allowed; expected one of: http:\/\/127\.0\.0\.1:\d+ \(this BFF's own origin/),
    });
    expect((await t.store.listUserSessions('user-alice', Date.now())).map((s) => s.sid)).toEqual([device.sid]);
  });

  it('rejects X-CSRF with another value', async () => {
    const res = await call(t.app, 'post', '/auth/refresh', { csrf: false, headers: { 'X-CSRF': 'yes' } });
    expect(res.status).toBe(403);
  });

  it("accepts the BFF's own origin by default", async () => {
    const res = await call(t.app, 'post', '/auth/login', {
      body: { username: 'alice', password: 'wonderland' },
      headers: { Origin: 'http://bff.example', Host: 'bff.example' },
    });
    expect(res.status).toBe(200);
  });

  it('uses the configured allow-list instead when given', async () => {
    const custom = await startTestBff({ origins: { allowed: ['https://app.example.com'] } });
    try {
      const ok = await call(custom.app, 'post', '/auth/login', {
        body: { username: 'alice', password: 'wonderland' },
        headers: { Origin: 'https://app.example.com' },
      });
      expect(ok.status).toBe(200);
      const own = await call(custom.app, 'post', '/auth/refresh', { headers: { Origin: 'http://127.0.0.1' } });
      expect(own.status).toBe(403);
      expect(own.body.message).toBe('Origin http://127.0.0.1 is not allowed; expected one of: https://app.example.com.');
      // Both wrong: the Origin is named first (the header alone would not let that page in).
      const both = await call(custom.app, 'post', '/auth/refresh', { csrf: false, headers: { Origin: 'https://evil.example' } });
      expect(both.body.message).toBe('Origin https://evil.example is not allowed; expected one of: https://app.example.com.');
    } finally {
      await custom.close();
    }
  });

  it('serves the JWKS without X-CSRF (it is public and not cookie-authenticated)', async () => {
    const res = await call(t.app, 'get', '/auth/jwks.json', { csrf: false });
    expect(res.status).toBe(200);
  });
});
