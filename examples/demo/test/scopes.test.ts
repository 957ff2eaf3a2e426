import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createDemoApp, type DemoApp } from '../src/app.js';
import { readDemoConfig } from '../src/config.js';

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

describe('demo scopes', () => {
  it('alice has the admin scope: /api/me shows it and /api/admin answers', async () => {
    const token = await tokenOf('alice', 'wonderland');
    const me = await request(demo.app).get('/api/me').set('Authorization', `Bearer ${token}`);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ sub: 'user-alice', name: 'Alice Liddell', scope: 'profile:read admin latchkey:admin latchkey:keys' });
    expect(typeof me.body.sid).toBe('string');
    expect((await request(demo.app).get('/api/admin').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  });

  it('bob lacks it: 403 insufficient_scope with the RFC 6750 challenge', async () => {
    const token = await tokenOf('bob', 'builder');
    const res = await request(demo.app).get('/api/admin').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
    expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="admin"');
  });
});
