/**
 * The demo with the bundled development IdP (LATCHKEY_DEMO_IDP=true, node-oidc-provider at /idp), as `npm start` runs
 * it, over real HTTP: the redirect flow, and on a shared Redis (one node, and a 3-master Cluster) two processes where
 * the sign-in starts on one and the IdP's callback lands on the other, then a back-channel logout sent by the IdP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeAtIdp, HttpDevice, startDemoProcess, startLogin, startRedisCluster, startRedisServer, type DemoProcess } from '@latchkey/testkit';
import { DEV_IDP_CLIENT_ID, DEV_IDP_CLIENT_SECRET } from '../src/dev-idp.js';
import { loadTestEnv } from './support/load.js';

const SECRET = 'oidc-demo-secret-0123456789-abcdefghijklmnop';
const CSRF = { 'X-CSRF': '1', 'Content-Type': 'application/json' };

async function refreshAt(browser: HttpDevice, base: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await browser.request(`${base}/auth/refresh`, { method: 'POST', headers: CSRF });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the demo with LATCHKEY_DEMO_IDP=true (in-memory store)', () => {
  let demo: DemoProcess;
  beforeAll(async () => {
    demo = await startDemoProcess({ env: loadTestEnv({ LATCHKEY_DEMO_IDP: 'true', LATCHKEY_SECRET: SECRET }) });
  }, 30_000);
  afterAll(async () => demo?.stop());

  it('offers the IdP and signs alice in through it as the same user as her password login', async () => {
    expect(await (await fetch(`${demo.url}/api/config`)).json()).toEqual({ oidc: true, proxy: false });
    expect(demo.output()).toContain(`identity provider: the bundled development IdP at ${demo.url}/idp`);
    const browser = new HttpDevice();
    const callback = await authorizeAtIdp(browser, (await startLogin(browser, demo.url, '/')).href);
    expect(callback.origin).toBe(demo.url);
    const res = await browser.request(callback.href);
    expect(res.status).toBe(303);
    const { status, body } = await refreshAt(browser, demo.url);
    expect(status).toBe(200);
    expect(body.user).toEqual({ id: 'user-alice', name: 'Alice Liddell' });
    const me = await fetch(`${demo.url}/api/me`, { headers: { Authorization: `Bearer ${String(body.accessToken)}` } });
    expect(await me.json()).toMatchObject({ sub: 'user-alice', name: 'Alice Liddell' });
  });

  it('a wrong password at the IdP is refused there', async () => {
    const browser = new HttpDevice();
    await expect(authorizeAtIdp(browser, (await startLogin(browser, demo.url)).href, 'alice', 'nope')).rejects.toThrow(/401/);
  });
});

it('without OIDC configured the page offers no IdP and the routes do not exist', async () => {
  const demo = await startDemoProcess({ env: loadTestEnv({ LATCHKEY_SECRET: SECRET }) });
  try {
    expect(await (await fetch(`${demo.url}/api/config`)).json()).toEqual({ oidc: false, proxy: false });
    expect((await fetch(`${demo.url}/auth/oidc/login`, { redirect: 'manual', headers: { 'X-CSRF': '1' } })).status).toBe(404);
  } finally {
    await demo.stop();
  }
}, 30_000);

const BACKENDS = [
  {
    name: 'one Redis',
    start: async () => {
      const r = await startRedisServer();
      return { env: { REDIS_URL: r.url }, stop: () => r.stop() };
    },
  },
  {
    name: 'a 3-master Redis Cluster',
    start: async () => {
      const c = await startRedisCluster({ masters: 3 });
      return { env: { REDIS_URL: c.url, LATCHKEY_REDIS_CLUSTER: 'true' }, stop: () => c.stop() };
    },
  },
];

describe.each(BACKENDS)('two demo processes with the IdP on $name', ({ start }) => {
  let backend: { env: Record<string, string>; stop(): Promise<void> };
  let first: DemoProcess;
  let second: DemoProcess;

  beforeAll(async () => {
    backend = await start();
    first = await startDemoProcess({ env: loadTestEnv({ ...backend.env, LATCHKEY_SECRET: SECRET, LATCHKEY_DEMO_IDP: 'true' }) });
    second = await startDemoProcess({
      env: loadTestEnv({
        ...backend.env,
        LATCHKEY_SECRET: SECRET,
        LATCHKEY_ISSUER: first.url,
        LATCHKEY_OIDC_ISSUER: `${first.url}/idp`,
        LATCHKEY_OIDC_CLIENT_ID: DEV_IDP_CLIENT_ID,
        LATCHKEY_OIDC_CLIENT_SECRET: DEV_IDP_CLIENT_SECRET,
      }),
    });
  }, 60_000);
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
    await backend?.stop();
  });

  it('the callback lands on the other process; a back-channel logout from the IdP ends the sessions on both', async () => {
    const laptop = new HttpDevice();
    const phone = new HttpDevice();
    for (const browser of [laptop, phone]) {
      const authorization = await startLogin(browser, second.url, `${second.url}/`);
      const callback = await authorizeAtIdp(browser, authorization.href);
      // The deployment's public URL is the first process: the transaction, saved by the second, is read there.
      expect(callback.origin).toBe(first.url);
      const res = await browser.request(callback.href);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe(`${second.url}/`);
    }
    const onSecond = await refreshAt(laptop, second.url);
    const onFirst = await refreshAt(phone, first.url);
    expect([onSecond.status, onFirst.status]).toEqual([200, 200]);
    expect(onSecond.body.user).toEqual({ id: 'user-alice', name: 'Alice Liddell' });

    const sent = await fetch(`${first.url}/idp/dev/sign-out-everywhere`, { method: 'POST', body: new URLSearchParams({ username: 'alice' }) });
    expect(sent.status).toBe(204);
    expect(await refreshAt(laptop, second.url)).toMatchObject({ status: 401, body: { error: 'session_revoked' } });
    expect(await refreshAt(phone, first.url)).toMatchObject({ status: 401, body: { error: 'session_revoked' } });
    for (const [token, base] of [
      [onSecond.body.accessToken, first.url],
      [onFirst.body.accessToken, second.url],
    ] as const) {
      await expect
        .poll(async () => (await fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${String(token)}` } })).status, { timeout: 3000, interval: 20 })
        .toBe(401);
    }
  }, 60_000);
});
