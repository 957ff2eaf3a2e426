import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { type RedisServer, startRedisServer, startTcpProxy, type TcpProxy } from '@latchkey/testkit';
import { call, login, me, refresh, startTestBff, type TestBff } from '../helpers/harness.js';

/**
 * Two BFF instances (A and B) on one real Redis. B reaches Redis through a proxy the tests can cut, so B alone
 * can be taken off the store while A keeps writing revocations.
 */
describe('guards on a real Redis', () => {
  let redis: RedisServer;
  let proxy: TcpProxy;
  let a: TestBff;
  let b: TestBff;
  const prefix = `guard-${Date.now()}:`;
  const POLL = { timeout: 3000, interval: 10 };

  beforeAll(async () => {
    redis = await startRedisServer();
    proxy = await startTcpProxy(redis.port);
    a = await startTestBff({}, await RedisStore.connect({ url: redis.url, prefix }));
    b = await startTestBff({}, await RedisStore.connect({ url: proxy.url, prefix }));
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await proxy?.close();
    await redis?.stop();
  });

  it.each([
    [
      'jti',
      async (d: { token: string }) => {
        const { decodeJwt } = await import('jose');
        const c = decodeJwt(d.token);
        await a.bff.admin.revokeAccessToken(c.jti!, c.exp!);
      },
    ],
    ['session', async (d: { cookie: string }) => void (await call(a.app, 'post', '/auth/logout', { cookie: d.cookie }))],
    ['user revoked_after', async (d: { cookie: string }) => void (await call(a.app, 'post', '/auth/logout-all', { cookie: d.cookie }))],
  ] as const)('a %s revocation made through A is enforced by B', async (_kind, revoke) => {
    const device = await login(a.app);
    expect((await me(b.app, device.token)).status).toBe(200);
    await revoke(device as never);
    await expect.poll(async () => (await me(b.app, device.token)).status, POLL).toBe(401);
  });

  it('a revocation made while B was cut off from Redis is enforced once B reconnects; B fails closed meanwhile', async () => {
    const victim = await login(a.app, 'bob');
    const bystander = await login(a.app, 'alice');
    expect((await me(b.app, victim.token)).status).toBe(200);
    proxy.cut();
    await call(a.app, 'post', '/auth/logout', { cookie: victim.cookie });
    // B cannot know about the logout: it must not answer 200 for anyone.
    await expect.poll(async () => (await me(b.app, bystander.token)).status, { timeout: 4000, interval: 50 }).toBe(503);
    expect((await me(b.app, victim.token)).status).toBe(503);
    proxy.restore();
    await expect.poll(async () => (await me(b.app, bystander.token)).status, { timeout: 8000, interval: 50 }).toBe(200);
    expect((await me(b.app, victim.token)).status).toBe(401);
  });

  it('Redis paused: fail-closed answers 503 within about a second, fail-open serves; both recover', async () => {
    const device = await login(a.app);
    redis.pause();
    try {
      await expect.poll(async () => (await me(a.app, device.token)).status, { timeout: 5000, interval: 50 }).toBe(503);
      const open = await request(a.app).get('/api/open').set('Authorization', `Bearer ${device.token}`);
      expect(open.status).toBe(200);
      // Refresh answers 503 (never 401) and keeps the cookie.
      const r = await call(a.app, 'post', '/auth/refresh', { cookie: device.cookie });
      expect(r.status).toBe(503);
      expect(r.headers['set-cookie']).toBeUndefined();
      // A revocation attempted during the outage fails loudly.
      expect((await call(a.app, 'post', '/auth/logout-all', { cookie: device.cookie })).status).toBe(503);
    } finally {
      redis.resume();
    }
    await expect.poll(async () => (await me(a.app, device.token)).status, { timeout: 8000, interval: 50 }).toBe(200);
    expect((await refresh(a.app, device)).status).toBe(200);
  });

  it('emergency rotation on A: no token signed with a dropped key is accepted by B', async () => {
    const device = await login(a.app);
    expect((await me(b.app, device.token)).status).toBe(200);
    await a.bff.admin.emergencyRotateKeys();
    await expect.poll(async () => (await me(b.app, device.token)).status, POLL).toBe(401);
    expect((await refresh(b.app, device)).status).toBe(200);
    expect((await me(a.app, device.token)).status).toBe(200);
    expect((await me(b.app, device.token)).status).toBe(200);
  });

  it('B learns a key rotated on A before its first token arrives', async () => {
    await a.bff.admin.rotateSigningKey();
    const device = await login(a.app);
    expect((await me(b.app, device.token)).status).toBe(200);
  });
});
