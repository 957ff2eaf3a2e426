import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchMetrics, HttpDevice, SESSION_COOKIE, startDemoProcess, startRedisCluster, startRedisServer, type DemoProcess } from '@latchkey/testkit';
import { loadTestEnv } from './support/load.js';

/** Revocations travel through Redis to the other process's local view: give them a moment, not a fixed sleep. */
const POLL = { timeout: 2000, interval: 5 };

interface Backend {
  /** The demo's environment for it (SPEC section 3, plus LATCHKEY_REDIS_CLUSTER). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const BACKENDS: Array<{ name: string; start(): Promise<Backend> }> = [
  {
    name: 'one Redis',
    async start() {
      const redis = await startRedisServer();
      return { env: { REDIS_URL: redis.url }, stop: () => redis.stop() };
    },
  },
  {
    name: 'a 3-master Redis Cluster',
    async start() {
      const cluster = await startRedisCluster({ masters: 3 });
      return { env: { REDIS_URL: cluster.url, LATCHKEY_REDIS_CLUSTER: 'true' }, stop: () => cluster.stop() };
    },
  },
];

/** Two demo processes on one Redis (or one Cluster) with one secret are one deployment (SPEC section 3). */
describe.each(BACKENDS)('two demo processes on $name', ({ start }) => {
  let backend: Backend;
  let a: DemoProcess;
  let b: DemoProcess;

  beforeAll(async () => {
    backend = await start();
    // The defaults the README shows: no LATCHKEY_ISSUER, so each process's issuer is http://localhost:<its port>.
    const env = { ...backend.env, LATCHKEY_SECRET: 'two-process-secret-0123456789-abcdefghijkl' };
    [a, b] = await Promise.all([startDemoProcess({ env: loadTestEnv(env) }), startDemoProcess({ env: loadTestEnv(env) })]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await backend?.stop();
  });

  it('share the signing keys', async () => {
    const [ja, jb] = await Promise.all([fetch(`${a.url}/auth/jwks.json`), fetch(`${b.url}/auth/jwks.json`)]);
    expect(await ja.json()).toEqual(await jb.json());
  });

  it("accept each other's tokens and cookies", async () => {
    const device = new HttpDevice(a.url);
    await device.login('alice', 'wonderland');
    const iss = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { iss: string }).iss;
    expect(iss(device.token!)).toBe(a.url);
    expect(a.url).not.toBe(b.url);
    const res = await device.me({ base: b.url });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sub: 'user-alice', sid: device.sid, name: 'Alice Liddell' });
    expect((await device.refresh(b.url)).status).toBe(200);
    expect((await device.refresh(a.url)).status).toBe(200);
    expect((await device.me()).status).toBe(200);
  });

  it('enforce a logout made on the other process at once', async () => {
    const device = new HttpDevice(a.url);
    await device.login('alice', 'wonderland');
    const token = device.token;
    expect((await device.me({ base: b.url })).status).toBe(200);
    expect((await device.logout()).status).toBe(204);
    await expect.poll(async () => (await device.me({ base: b.url, token })).status, POLL).toBe(401);
  });

  it('enforce a logout-all and a device revocation made on the other process', async () => {
    const laptop = new HttpDevice(a.url);
    const phone = new HttpDevice(b.url);
    const tablet = new HttpDevice(b.url);
    await laptop.login('bob', 'builder');
    await phone.login('bob', 'builder');
    await tablet.login('bob', 'builder');

    expect((await laptop.call('DELETE', `/auth/sessions/${tablet.sid}`)).status).toBe(204);
    await expect.poll(async () => (await tablet.me()).status, POLL).toBe(401);
    expect((await tablet.refresh(b.url)).status).toBe(401);

    expect((await phone.logoutAll()).status).toBe(204);
    await expect.poll(async () => (await laptop.me()).status, POLL).toBe(401);
    await expect.poll(async () => (await laptop.me({ base: b.url })).status, POLL).toBe(401);
    const r = await laptop.refresh(a.url);
    expect(r.status).toBe(401);
    expect(await r.json()).toEqual({ error: 'session_revoked', message: 'The session was signed out.' });
  });

  it('enforce a logout-others made on the other process: every other device signed out at once, this one goes on', async () => {
    const [laptop, phone, tablet] = [new HttpDevice(a.url), new HttpDevice(b.url), new HttpDevice(a.url)];
    for (const device of [laptop, phone, tablet]) await device.login('alice', 'wonderland');
    for (const device of [phone, tablet]) expect((await device.me({ base: b.url })).status).toBe(200);

    // Asked on process B by the laptop (whose session process A started): one atomic store operation.
    expect((await laptop.logoutOthers(b.url)).status).toBe(204);
    for (const device of [phone, tablet]) {
      for (const base of [a.url, b.url]) await expect.poll(async () => (await device.me({ base })).status, POLL).toBe(401);
      const r = await device.refresh(a.url);
      expect({ status: r.status, body: await r.json() }).toEqual({ status: 401, body: { error: 'session_revoked', message: 'The session was signed out.' } });
    }
    for (const base of [a.url, b.url]) expect((await laptop.me({ base })).status).toBe(200);
    expect((await laptop.refresh(a.url)).status).toBe(200);
    expect((await laptop.refresh(b.url)).status).toBe(200);
    const listed = (await (await laptop.sessions(a.url)).json()) as { sessions: Array<{ id: string; current: boolean }> };
    expect(listed.sessions.map((s) => s.id)).toEqual([laptop.sid]);
  });

  it('detect theft across processes', async () => {
    const victim = new HttpDevice(a.url);
    await victim.login('alice', 'wonderland');
    const stolen = victim.cookie;
    await victim.refresh(a.url);
    await victim.refresh(b.url);
    const thief = new HttpDevice(a.url);
    thief.cookie = stolen;
    const res = await thief.refresh(b.url);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('reuse_detected');
    await expect.poll(async () => (await victim.me()).status, POLL).toBe(401);
  });

  it('never both rotate one generation: 50 concurrent refreshes split across both processes all get one successor', async () => {
    const device = new HttpDevice(a.url);
    await device.login('alice', 'wonderland');
    const cookie = device.cookie!;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        fetch(`${i % 2 ? a.url : b.url}/auth/refresh`, { method: 'POST', headers: { 'X-CSRF': '1', Cookie: `${SESSION_COOKIE}=${cookie}` } }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const cookies = new Set(
      results.map((r) =>
        r.headers
          .getSetCookie()[0]!
          .split(';')[0]!
          .slice(SESSION_COOKIE.length + 1),
      ),
    );
    expect(cookies.size).toBe(1);
    device.cookie = [...cookies][0]!;
    expect((await device.refresh(b.url)).status).toBe(200);
    expect((await device.refresh(a.url)).status).toBe(200);
  });

  it('serve metrics (behind the metrics token)', async () => {
    expect((await fetch(`${a.url}/metrics`)).status).toBe(401);
    const text = await fetchMetrics(a.url);
    expect(text).toMatch(/latchkey_refreshes_total\{outcome="rotated"\} \d+/);
  });
});
