import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createDemoApp, type DemoApp } from '../src/app.js';
import { readDemoConfig } from '../src/config.js';
import { DEMO_ACCOUNTS } from '../src/accounts.js';

let demo: DemoApp;
beforeAll(async () => {
  demo = await createDemoApp({ ...readDemoConfig({ PORT: '0' }), port: 0 }, pino({ level: 'silent' }));
});
afterAll(() => demo.close());

async function tokenOf(username: string, password: string): Promise<string> {
  const res = await request(demo.app).post('/auth/login').set('X-CSRF', '1').set('X-Forwarded-Proto', 'https').send({ username, password });
  expect(res.status).toBe(200);
  return res.body.accessToken as string;
}

describe('demo admin API at /admin', () => {
  it('alice (scope latchkey:admin) lists and revokes bob; bob gets 403; the answers carry the security headers', async () => {
    const alice = await tokenOf('alice', 'wonderland');
    const bob = await tokenOf('bob', 'builder');

    const refused = await request(demo.app).get('/admin/users/user-alice/sessions').set('Authorization', `Bearer ${bob}`);
    expect(refused.status).toBe(403);
    // The router's own scope, not the application's `admin` (which /api/admin uses).
    expect(refused.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="latchkey:admin"');
    expect((await request(demo.app).post('/admin/keys/stage').set('Authorization', `Bearer ${bob}`)).status).toBe(403);

    const listed = await request(demo.app).get('/admin/users/user-bob/sessions').set('Authorization', `Bearer ${alice}`);
    expect(listed.status).toBe(200);
    expect(listed.body.sessions).toHaveLength(1);
    expect(listed.headers['x-content-type-options']).toBe('nosniff');

    const revoked = await request(demo.app).delete('/admin/users/user-bob/sessions').set('Authorization', `Bearer ${alice}`);
    expect(revoked.body).toEqual({ sessionsEnded: 1 });
    await expect
      .poll(async () => (await request(demo.app).get('/api/me').set('Authorization', `Bearer ${bob}`)).status, { timeout: 5000, interval: 10 })
      .toBe(401);
  });

  it('the admin router has a scope of its own (alice holds it, bob does not), and the keys need latchkey:keys too', async () => {
    const scopes = new Map(DEMO_ACCOUNTS.map((a) => [a.username, a.scope.split(' ')]));
    expect(scopes.get('alice')).toEqual(expect.arrayContaining(['admin', 'latchkey:admin', 'latchkey:keys']));
    expect(scopes.get('bob')).not.toContain('latchkey:admin');
    const alice = await tokenOf('alice', 'wonderland');
    const staged = await request(demo.app).post('/admin/keys/stage').set('Authorization', `Bearer ${alice}`);
    expect(staged.status).toBe(200);
    expect(staged.body.kid).toEqual(expect.any(String));
  });
});
