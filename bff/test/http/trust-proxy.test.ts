import { afterEach, describe, expect, it } from 'vitest';
import { call, startTestBff, type TestBff } from '../helpers/harness.js';

/**
 * Behind a TLS-terminating proxy the BFF sees the proxy's address and plain http; Express's `trust proxy` makes
 * req.ip and req.protocol come from X-Forwarded-For and X-Forwarded-Proto instead (docs/deployment.md).
 * supertest connects from 127.0.0.1, which stands for the proxy here.
 */
let t: TestBff | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const perIpOfTwo = { rateLimit: { login: { perIp: { limit: 2, windowMs: 60_000 } } } };
const loginFrom = (app: TestBff['app'], forwardedFor: string) =>
  call(app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' }, headers: { 'X-Forwarded-For': forwardedFor } });

describe('per-IP limits and trust proxy', () => {
  it("without trust proxy, X-Forwarded-For is ignored: every client behind the proxy shares the proxy's address", async () => {
    t = await startTestBff(perIpOfTwo);
    expect((await loginFrom(t.app, '203.0.113.1')).status).toBe(200);
    expect((await loginFrom(t.app, '203.0.113.2')).status).toBe(200);
    // A third, different client is refused: the limit counted 127.0.0.1 (the proxy) twice already.
    const third = await loginFrom(t.app, '203.0.113.3');
    expect(third.status).toBe(429);
    expect(third.body.error).toBe('rate_limited');
  });

  it('with trust proxy, each client is counted on its own address from X-Forwarded-For', async () => {
    t = await startTestBff(perIpOfTwo);
    t.app.set('trust proxy', 'loopback');
    for (const ip of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) expect((await loginFrom(t.app, ip)).status).toBe(200);
    expect((await loginFrom(t.app, '203.0.113.4')).status).toBe(200);
    expect((await loginFrom(t.app, '203.0.113.4')).status).toBe(200);
    expect((await loginFrom(t.app, '203.0.113.4')).status).toBe(429);
    // The right-most untrusted hop counts: an address the client prepends itself does not get it a fresh counter.
    expect((await loginFrom(t.app, '198.51.100.7, 203.0.113.4')).status).toBe(429);
  });
});

describe("the default allowed origin and trust proxy (no origins.allowed: the BFF's own origin)", () => {
  const behindTls = { Host: 'auth.example.com', 'X-Forwarded-Proto': 'https', Origin: 'https://auth.example.com' };

  it('without trust proxy, the https page is refused: the BFF thinks its own origin is http://', async () => {
    t = await startTestBff();
    const res = await call(t.app, 'post', '/auth/refresh', { headers: behindTls });
    expect(res.status).toBe(403);
    expect(res.body.message).toBe(
      "Origin https://auth.example.com is not allowed; expected one of: http://auth.example.com (this BFF's own origin as the request shows it; set origins.allowed to allow others).",
    );
  });

  it('with trust proxy, the forwarded protocol makes the own origin https://, and the page gets through', async () => {
    t = await startTestBff();
    t.app.set('trust proxy', 'loopback');
    const res = await call(t.app, 'post', '/auth/refresh', { headers: behindTls });
    expect([res.status, res.body.error]).toEqual([401, 'no_session']); // past the CSRF check
  });
});
