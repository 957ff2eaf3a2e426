import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { call, sessionCookie, type TestBff } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';
import { adminLogin, startAdminBff } from './admin-harness.js';

let t: TestBff;
afterEach(() => t?.close());

const operator = (token: string) => request(t.app).get('/admin/operator').set('Authorization', `Bearer ${token}`);

describe('admin router: a recent authentication (step-up)', () => {
  it('refuses a token whose authentication is older than 15 minutes by default, audited; re-authentication lets the same session in', async () => {
    const clock = new TestClock();
    t = await startAdminBff(new MemoryStore({ clock }), { clock });
    const alice = await adminLogin(t, 'alice');
    expect((await operator(alice.token)).status).toBe(200);
    clock.advance(901_000);
    const refreshed = await call(t.app, 'post', '/auth/refresh', { cookie: alice.cookie });
    expect(refreshed.status).toBe(200);
    const refused = await operator(refreshed.body.accessToken as string);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('insufficient_user_authentication');
    expect(refused.headers['www-authenticate']).toMatch(/error="insufficient_user_authentication".*max_age=900/);
    const audit = t.logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.event === 'admin_audit' && l.outcome === 'insufficient_user_authentication');
    expect(audit).toMatchObject({ action: 'authenticate', actor: { sub: 'user-alice', sid: alice.sid } });

    const reauth = await call(t.app, 'post', '/auth/reauthenticate', { cookie: sessionCookie(refreshed), body: { password: 'wonderland' } });
    expect(reauth.status).toBe(200);
    expect(reauth.body.session.id).toBe(alice.sid);
    expect((await operator(reauth.body.accessToken as string)).status).toBe(200);
  });

  it('maxAuthAgeSeconds: null turns it off; another bound applies as given', async () => {
    const clock = new TestClock();
    t = await startAdminBff(new MemoryStore({ clock }), { clock }, { maxAuthAgeSeconds: null });
    const alice = await adminLogin(t, 'alice');
    clock.advance(1200_000);
    const refreshed = await call(t.app, 'post', '/auth/refresh', { cookie: alice.cookie });
    expect((await operator(refreshed.body.accessToken as string)).status).toBe(200);
    expect(() => t.bff.adminRouter({ maxAuthAgeSeconds: -5 })).toThrow(/maxAuthAgeSeconds/);
    const strict = t.bff.adminRouter({ maxAuthAgeSeconds: 10 });
    t.app.use('/strict', strict);
    clock.advance(11_000);
    const res = await request(t.app)
      .get('/strict/operator')
      .set('Authorization', `Bearer ${refreshed.body.accessToken as string}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/max_age=10/);
  });
});
