import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { freePort } from '@latchkey/testkit';
import { createDemoApp, type DemoApp } from '../src/app.js';
import { readDemoConfig } from '../src/config.js';

let demo: DemoApp | undefined;
afterEach(async () => {
  await demo?.close();
  demo = undefined;
});

async function start(env: Record<string, string> = {}): Promise<DemoApp> {
  demo = await createDemoApp({ ...readDemoConfig({ PORT: '0', LATCHKEY_DEMO_PROXY: 'true', ...env }), port: 0 }, pino({ level: 'silent' }));
  return demo;
}

async function cookieOf(app: DemoApp['app'], username: string, password: string): Promise<string> {
  const res = await request(app).post('/auth/login').set('X-CSRF', '1').set('X-Forwarded-Proto', 'https').send({ username, password });
  expect(res.status).toBe(200);
  expect(res.text).not.toContain('eyJ');
  const line = (res.headers['set-cookie'] as unknown as string[]).find((l) => l.startsWith('__Host-latchkey='))!;
  return line.split(';')[0]!;
}

const viaProxy = (app: DemoApp['app'], path: string, cookie: string) =>
  request(app).get(path).set('X-CSRF', '1').set('X-Forwarded-Proto', 'https').set('Cookie', cookie);

describe('demo in proxy mode (LATCHKEY_DEMO_PROXY=true)', () => {
  it('serves /api/me and /api/admin from the upstream API through the proxy, by cookie, with no token in the answer', async () => {
    const { app } = await start();
    const alice = await cookieOf(app, 'alice', 'wonderland');
    const me = await viaProxy(app, '/api/me', alice);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ sub: 'user-alice', name: 'Alice Liddell', via: 'proxy' });
    expect(me.text).not.toContain('eyJ');
    expect((await viaProxy(app, '/api/admin', alice)).status).toBe(200);
    const bob = await cookieOf(app, 'bob', 'builder');
    const denied = await viaProxy(app, '/api/admin', bob);
    // The upstream guard's 403, passed through.
    expect(denied.status).toBe(403);
    expect(denied.body.error).toBe('insufficient_scope');
    expect((await request(app).get('/api/config')).body).toEqual({ oidc: false, proxy: true });
  });

  it('refuses a bearer token without the cookie: the page cannot bypass the proxy with a token', async () => {
    const { app } = await start();
    const res = await request(app).get('/api/me').set('X-CSRF', '1').set('Authorization', 'Bearer eyJhbGciOiJFUzI1NiJ9.e30.x');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('no_session');
  });

  it('answers 502 upstream_unavailable when the upstream is down, and keeps the session', async () => {
    const { app } = await start({ LATCHKEY_DEMO_UPSTREAM_URL: `http://127.0.0.1:${await freePort()}` });
    const alice = await cookieOf(app, 'alice', 'wonderland');
    const res = await viaProxy(app, '/api/me', alice);
    expect(res.status).toBe(502);
    expect(res.body.error).toBe('upstream_unavailable');
    expect((await viaProxy(app, '/auth/session', alice)).status).toBe(200);
  });
});
