import { afterEach, describe, expect, it, vi } from 'vitest';
import request from 'supertest';
import type { ServerSession } from '../../src/session/server-session.js';
import { MemoryStore } from '../../src/store/memory.js';
import { call, login, refresh, startTestBff, type TestBff, type TestBffOverrides } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

/**
 * A memory store that counts session reads (getSession promises at most one, and none on a cache hit), and can hold
 * back the revocation log's news for a while, as a busy Redis or a slow network would.
 */
class CountingStore extends MemoryStore {
  reads = 0;
  feedDelayMs = 0;
  override getSession(key: string, now: number) {
    this.reads += 1;
    return super.getSession(key, now);
  }
  override async readRevocations(...args: Parameters<MemoryStore['readRevocations']>) {
    const batch = await super.readRevocations(...args);
    if (this.feedDelayMs > 0 && batch.events.length > 0) await new Promise((r) => setTimeout(r, this.feedDelayMs));
    return batch;
  }
}

interface Setup {
  t: TestBff;
  store: CountingStore;
  clock: TestClock;
  /** Set-Cookie lines of every /ssr answer (the Express form): getSession must never set one. */
  setCookies: string[];
}

const running: TestBff[] = [];
afterEach(async () => {
  for (const t of running.splice(0)) await t.close();
});

async function setup(overrides: TestBffOverrides = {}): Promise<Setup> {
  const clock = new TestClock();
  const store = new CountingStore({ clock });
  const t = await startTestBff({ clock, ...overrides }, store);
  running.push(t);
  // A page rendered by Express: what the page would greet the user with.
  t.app.get('/ssr', async (req, res) => void res.json({ session: await t.bff.getSession(req) }));
  return { t, store, clock, setCookies: [] };
}

/** The three ways a server hands getSession its request. */
const FORMS: Array<{ name: string; read: (s: Setup, cookie: string | null) => Promise<ServerSession | null> }> = [
  {
    name: 'an Express request',
    read: async (s, cookie) => {
      const res = await request(s.t.app)
        .get('/ssr')
        .set(cookie === null ? {} : { Cookie: cookie });
      expect(res.status).toBe(200);
      s.setCookies.push(...((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []));
      return res.body.session;
    },
  },
  {
    name: 'a Fetch Request',
    read: (s, cookie) => s.t.bff.getSession(new Request('https://app.example.test/dashboard', { headers: cookie === null ? {} : { cookie } })),
  },
  { name: 'a Cookie header', read: (s, cookie) => s.t.bff.getSession(cookie) },
];

async function theftCount(s: Setup): Promise<number> {
  const text = await s.t.bff.metrics.registry.metrics();
  return Number(/^latchkey_theft_detections_total (\d+)/m.exec(text)?.[1] ?? 'NaN');
}

describe.each(FORMS)('bff.getSession with $name', ({ read }) => {
  it('valid: the user, the device session and the granted claims; no cookie set, nothing rotated, one store read', async () => {
    const s = await setup();
    const device = await login(s.t.app, 'alice', 'Laptop');
    s.store.reads = 0;
    const session = await read(s, `theme=dark; ${device.cookie}`);
    expect(session).toEqual({
      user: { id: 'user-alice', name: 'Alice' },
      session: { id: device.sid, deviceName: 'Laptop', createdAt: expect.any(Number) },
      claims: {},
    });
    expect(s.store.reads).toBe(1);
    // Cached: the next render of the same cookie reads nothing.
    expect(await read(s, device.cookie)).toEqual(session);
    expect(s.store.reads).toBe(1);
    expect(s.setCookies).toEqual([]);
    // Not rotated: the same cookie still refreshes as the current credential.
    expect((await refresh(s.t.app, device)).status).toBe(200);
  });

  it('missing: no cookie, or only other cookies, is null without a store read', async () => {
    const s = await setup();
    s.store.reads = 0;
    expect(await read(s, null)).toBeNull();
    expect(await read(s, 'theme=dark')).toBeNull();
    expect(s.store.reads).toBe(0);
  });

  it('forged: a cookie not signed by our secret, or altered, is null without a store read', async () => {
    const s = await setup();
    const device = await login(s.t.app);
    s.store.reads = 0;
    const [name, value] = device.cookie.split('=') as [string, string];
    const flipped = value.slice(0, -2) + (value.at(-2) === 'A' ? 'B' : 'A') + value.at(-1);
    expect(await read(s, `${name}=${flipped}`)).toBeNull();
    expect(await read(s, `${name}=not-a-cookie`)).toBeNull();
    expect(s.store.reads).toBe(0);
  });

  it('expired: past the idle timeout is null, even with the answer cached before', async () => {
    const s = await setup({ session: { idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 120 } });
    const device = await login(s.t.app);
    expect(await read(s, device.cookie)).not.toBeNull();
    s.clock.advance(60_001);
    expect(await read(s, device.cookie)).toBeNull();
  });

  it('revoked: logout, a device revoke and logout-all elsewhere make a cached session null at once', async () => {
    const s = await setup();
    const phone = await login(s.t.app, 'alice', 'Phone');
    const laptop = await login(s.t.app, 'alice', 'Laptop');
    const tablet = await login(s.t.app, 'alice', 'Tablet');
    for (const d of [phone, laptop, tablet]) expect(await read(s, d.cookie)).not.toBeNull();
    // This process's own ends reach the cache before the log's news reaches the view.
    s.store.feedDelayMs = 1000;

    expect((await call(s.t.app, 'post', '/auth/logout', { cookie: phone.cookie })).status).toBe(204);
    expect(await read(s, phone.cookie)).toBeNull();

    expect((await call(s.t.app, 'delete', `/auth/sessions/${laptop.sid}`, { cookie: tablet.cookie })).status).toBe(204);
    expect(await read(s, laptop.cookie)).toBeNull();

    const other = await login(s.t.app, 'alice', 'Desktop');
    expect((await call(s.t.app, 'post', '/auth/logout-all', { cookie: other.cookie })).status).toBe(204);
    expect(await read(s, tablet.cookie)).toBeNull();
    expect(s.setCookies).toEqual([]);
  });

  it('the previous cookie within the grace window (a render racing a refresh in another tab) is valid', async () => {
    const s = await setup({ session: { rotationGraceSeconds: 15 } });
    const tab = await login(s.t.app);
    const before = tab.cookie;
    expect((await refresh(s.t.app, tab)).status).toBe(200);
    s.clock.advance(10_000);
    expect((await read(s, before))?.session.id).toBe(tab.sid);
    expect((await read(s, tab.cookie))?.session.id).toBe(tab.sid);
    expect(await theftCount(s)).toBe(0);
  });

  it('superseded beyond the grace window is null, not theft: nothing is ended and the current cookie still works', async () => {
    const s = await setup({ session: { rotationGraceSeconds: 15, readCacheSeconds: 5 } });
    const tab = await login(s.t.app);
    const before = tab.cookie;
    // Cached while current: the cache may not outlive the rotation by more than the grace window.
    expect(await read(s, before)).not.toBeNull();
    expect((await refresh(s.t.app, tab)).status).toBe(200);
    s.clock.advance(15_001);
    expect(await read(s, before)).toBeNull();
    expect(await theftCount(s)).toBe(0);
    expect((await read(s, tab.cookie))?.session.id).toBe(tab.sid);
    expect((await refresh(s.t.app, tab)).status).toBe(200);
  });
});

describe('bff.getSession cache', () => {
  it('is never trusted longer than the grace window: with session.rotationGraceSeconds 0 every call reads the store', async () => {
    const s = await setup({ session: { rotationGraceSeconds: 0 } });
    const device = await login(s.t.app);
    s.store.reads = 0;
    await s.t.bff.getSession(device.cookie);
    await s.t.bff.getSession(device.cookie);
    expect(s.store.reads).toBe(2);
  });

  it('a cached answer lives session.readCacheSeconds, then the store is read again', async () => {
    const s = await setup({ session: { readCacheSeconds: 2 } });
    const device = await login(s.t.app);
    s.store.reads = 0;
    await s.t.bff.getSession(device.cookie);
    s.clock.advance(1_999);
    await s.t.bff.getSession(device.cookie);
    expect(s.store.reads).toBe(1);
    s.clock.advance(2);
    await s.t.bff.getSession(device.cookie);
    expect(s.store.reads).toBe(2);
  });

  it("another instance's revocation reaches a cached answer through the revocation view, without a store read", async () => {
    const clock = new TestClock();
    const store = new CountingStore({ clock });
    const a = await startTestBff({ clock }, store);
    const b = await startTestBff({ clock }, store);
    running.push(a, b);
    const device = await login(a.app);
    expect(await a.bff.getSession(device.cookie)).not.toBeNull();
    expect((await call(b.app, 'post', '/auth/logout', { cookie: device.cookie })).status).toBe(204);
    store.reads = 0;
    await vi.waitFor(async () => expect(await a.bff.getSession(device.cookie)).toBeNull(), { timeout: 3000, interval: 5 });
    // The view's sid marker answered: the cached entry never went back to the store.
    expect(store.reads).toBe(0);
  });

  it('theft detected by a refresh makes every holder null at once', async () => {
    const s = await setup({ session: { rotationGraceSeconds: 1 } });
    const device = await login(s.t.app);
    const stolen = device.cookie;
    expect((await refresh(s.t.app, device)).status).toBe(200);
    expect(await s.t.bff.getSession(device.cookie)).not.toBeNull();
    s.clock.advance(1_001);
    expect((await call(s.t.app, 'post', '/auth/refresh', { cookie: stolen })).body.error).toBe('reuse_detected');
    expect(await s.t.bff.getSession(device.cookie)).toBeNull();
  });

  it('takes a Headers object, anything with a header getter (Next.js read-only headers), and a plain Node request', async () => {
    const s = await setup();
    const device = await login(s.t.app);
    const readOnlyHeaders = { get: (name: string) => (name === 'cookie' ? device.cookie : null) };
    for (const source of [new Headers({ cookie: device.cookie }), readOnlyHeaders, { headers: { cookie: device.cookie } }]) {
      expect((await s.t.bff.getSession(source))?.session.id).toBe(device.sid);
    }
  });

  it('a store that cannot answer rejects with temporarily_unavailable; bad input is a TypeError', async () => {
    const s = await setup();
    const device = await login(s.t.app);
    vi.spyOn(s.store, 'getSession').mockRejectedValueOnce(new (await import('../../src/store/types.js')).StoreUnavailableError('down'));
    await expect(s.t.bff.getSession(device.cookie)).rejects.toMatchObject({ code: 'temporarily_unavailable' });
    await expect(s.t.bff.getSession(42 as never)).rejects.toThrow(TypeError);
  });
});

describe('bff.getAccessToken', () => {
  it('an access token for the cookie session that the guard accepts, reused until near its expiry, without touching the cookie', async () => {
    const s = await setup({ tokens: { ttlSeconds: 60 } });
    const device = await login(s.t.app);
    const token = await s.t.bff.getAccessToken(device.cookie);
    expect(token).toEqual(expect.any(String));
    const me = await request(s.t.app).get('/api/me').set('Authorization', `Bearer ${token}`);
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ sub: 'user-alice', sid: device.sid });
    // Cached per session: every form of the request gets the same token.
    expect(await s.t.bff.getAccessToken(new Request('https://app.example.test/', { headers: { cookie: device.cookie } }))).toBe(token);
    // A quarter of the lifetime (15 s) before expiry it is replaced.
    s.clock.advance(44_000);
    expect(await s.t.bff.getAccessToken(device.cookie)).toBe(token);
    s.clock.advance(2_000);
    const next = await s.t.bff.getAccessToken(device.cookie);
    expect(next).not.toBe(token);
    // The cookie was never rotated: it is still the current credential.
    expect((await refresh(s.t.app, device)).status).toBe(200);
    expect(await theftCount(s)).toBe(0);
  });

  it('null where getSession is null: missing, forged, and a session ended at once', async () => {
    const s = await setup();
    const device = await login(s.t.app);
    expect(await s.t.bff.getAccessToken(undefined)).toBeNull();
    expect(await s.t.bff.getAccessToken(`${device.cookie.split('=')[0]}=forged`)).toBeNull();
    const token = await s.t.bff.getAccessToken(device.cookie);
    s.store.feedDelayMs = 1000;
    expect((await call(s.t.app, 'post', '/auth/logout-all', { cookie: device.cookie })).status).toBe(204);
    expect(await s.t.bff.getAccessToken(device.cookie)).toBeNull();
    s.store.feedDelayMs = 0;
    // The token handed out before is refused by the guard once the revocation reaches its view.
    await vi.waitFor(async () => expect((await request(s.t.app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(401), {
      timeout: 3000,
      interval: 10,
    });
  });
});
