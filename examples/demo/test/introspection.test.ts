import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createDemoApp, type DemoApp } from '../src/app.js';
import { readDemoConfig } from '../src/config.js';

const SECRET = 'orders-api-secret-0123456789-abcdefghij';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function tokenOf(demo: DemoApp): Promise<string> {
  const res = await request(demo.app)
    .post('/auth/login')
    .set('X-CSRF', '1')
    .set('X-Forwarded-Proto', 'https')
    .send({ username: 'alice', password: 'wonderland' });
  expect(res.status).toBe(200);
  return res.body.accessToken as string;
}

describe('demo: LATCHKEY_INTROSPECTION_CLIENTS', () => {
  let demo: DemoApp;
  beforeAll(async () => {
    demo = await createDemoApp(
      { ...readDemoConfig({ PORT: '0', LATCHKEY_INTROSPECTION_CLIENTS: `orders-api:${SECRET}` }), port: 0 },
      pino({ level: 'silent' }),
    );
  });
  afterAll(() => demo.close());

  it('enables introspection and revocation for the listed client', async () => {
    const token = await tokenOf(demo);
    const introspect = () => request(demo.app).post('/auth/introspect').set('Authorization', basic('orders-api', SECRET)).type('form').send(`token=${token}`);
    expect((await introspect()).body).toMatchObject({ active: true, sub: 'user-alice', scope: 'profile:read admin latchkey:admin latchkey:keys' });
    const revoked = await request(demo.app).post('/auth/revoke').set('Authorization', basic('orders-api', SECRET)).type('form').send(`token=${token}`);
    expect(revoked.status).toBe(200);
    expect((await introspect()).body).toEqual({ active: false });
    expect((await request(demo.app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(401);
  });

  it('refuses malformed values at startup', () => {
    for (const value of ['orders-api', 'orders-api:short', `:${SECRET}`]) {
      expect(() => readDemoConfig({ LATCHKEY_INTROSPECTION_CLIENTS: value })).toThrow(/LATCHKEY_INTROSPECTION_CLIENTS/);
    }
  });
});

describe('demo without LATCHKEY_INTROSPECTION_CLIENTS', () => {
  let demo: DemoApp;
  beforeAll(async () => {
    demo = await createDemoApp({ ...readDemoConfig({ PORT: '0' }), port: 0 }, pino({ level: 'silent' }));
  });
  afterAll(() => demo.close());

  it('answers 404 on both routes', async () => {
    for (const path of ['/auth/introspect', '/auth/revoke']) {
      const res = await request(demo.app).post(path).set('Authorization', basic('orders-api', SECRET)).type('form').send('token=abc');
      expect(res.status).toBe(404);
    }
  });
});
