/**
 * bff.fetch called directly with Fetch Requests, as a Next.js route handler, Hono, Deno or Bun calls it: what the
 * bridge-run contract suites (the `server-fetch` project) cannot show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBff, type Bff } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import { ISSUER, SECRET, USERS } from '../helpers/harness.js';

const ORIGIN = 'https://app.example.test';
const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
  new Request(`${ORIGIN}${path}`, {
    method: 'POST',
    headers: { 'X-CSRF': '1', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
const setCookies = (res: Response) => res.headers.getSetCookie();

describe('bff.fetch', () => {
  let bff: Bff;
  let store: MemoryStore;
  const seen: unknown[] = [];
  beforeAll(async () => {
    store = new MemoryStore({ warnInProduction: false });
    bff = await createBff({
      store,
      secrets: [SECRET],
      tokens: { issuer: ISSUER },
      logger: (await import('pino')).pino({ level: 'silent' }),
      rateLimit: { login: { perIp: { limit: 2, windowMs: 60_000 } } },
      authenticate: async (username, password, req) => {
        seen.push(req);
        const user = USERS[username];
        return user && user.password === password ? { id: user.id, name: user.name } : null;
      },
    });
  });
  afterAll(async () => {
    await bff.close();
    await store.close();
  });

  it('signs in, refreshes with the cookie it set, lists the session and signs out, all through Fetch Requests', async () => {
    const login = await bff.fetch(post('/auth/login', { username: 'bob', password: USERS.bob!.password }), { clientAddress: '192.0.2.10' });
    expect(login.status).toBe(200);
    expect(login.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(login.headers.get('cache-control')).toBe('no-store');
    const body = (await login.json()) as { accessToken: string; session: { id: string } };
    expect(body.accessToken).toMatch(/^eyJ/);
    // authenticate() gets the Fetch Request it came in on.
    expect(seen.at(-1)).toBeInstanceOf(Request);
    const cookie = setCookies(login)[0]!.split(';')[0]!;

    const refreshed = await bff.fetch(post('/auth/refresh', undefined, { Cookie: cookie }), { clientAddress: '192.0.2.10' });
    expect(refreshed.status).toBe(200);
    const rotated = setCookies(refreshed)[0]!.split(';')[0]!;
    expect(rotated).not.toBe(cookie);

    const list = await bff.fetch(new Request(`${ORIGIN}/auth/sessions`, { headers: { 'X-CSRF': '1', Cookie: rotated } }));
    expect(list.status).toBe(200);
    expect(((await list.json()) as { sessions: Array<{ id: string; current: boolean }> }).sessions).toEqual([
      expect.objectContaining({ id: body.session.id, current: true }),
    ]);

    const logout = await bff.fetch(post('/auth/logout', undefined, { Cookie: rotated }));
    expect(logout.status).toBe(204);
    expect(await logout.text()).toBe('');
    expect(setCookies(logout)[0]).toMatch(/^__Host-latchkey=;.*Max-Age=0/);
  });

  it('streams GET /events as a ReadableStream, and forgets the stream when the client cancels the body or aborts the request', async () => {
    const login = await bff.fetch(post('/auth/login', { username: 'alice', password: USERS.alice!.password }), { clientAddress: '192.0.2.30' });
    const cookie = setCookies(login)[0]!.split(';')[0]!;
    const open = (signal?: AbortSignal) => bff.fetch(new Request(`${ORIGIN}/auth/events`, { headers: { Cookie: cookie }, ...(signal ? { signal } : {}) }));

    const first = await open();
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(first.headers.get('cache-control')).toBe('no-store, no-transform');
    const reader = first.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^retry: \d+\n\n$/);
    expect(bff.eventStreams.size).toBe(1);
    await reader.cancel();
    expect(bff.eventStreams.size).toBe(0);

    const aborted = new AbortController();
    const second = await open(aborted.signal);
    expect(second.status).toBe(200);
    expect(bff.eventStreams.size).toBe(1);
    aborted.abort();
    expect(bff.eventStreams.size).toBe(0);
  });

  it('serves POST /introspect to a resource client, and refuses a browser', async () => {
    const clients = await createBff({
      store,
      secrets: [SECRET],
      tokens: { issuer: ISSUER },
      logger: (await import('pino')).pino({ level: 'silent' }),
      resourceClients: [{ id: 'orders', secret: 'orders-secret-0123456789-abcdefghijklmn' }],
      authenticate: async () => ({ id: 'user-carol', name: 'Carol' }),
    });
    try {
      const login = await clients.fetch(post('/auth/login', { username: 'carol', password: 'any' }), { clientAddress: '192.0.2.31' });
      const { accessToken } = (await login.json()) as { accessToken: string };
      const form = (headers: Record<string, string> = {}) =>
        new Request(`${ORIGIN}/auth/introspect`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams({ token: accessToken, client_id: 'orders', client_secret: 'orders-secret-0123456789-abcdefghijklmn' }),
        });
      const res = await clients.fetch(form(), { clientAddress: '192.0.2.31' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ active: true, sub: 'user-carol' });
      const browser = await clients.fetch(form({ Origin: ORIGIN }));
      expect({ status: browser.status, body: await browser.json() }).toMatchObject({ status: 403, body: { error: 'csrf_rejected' } });
    } finally {
      await clients.close();
    }
  });

  it('answers a path outside /auth 404, and an unknown one under it after the X-CSRF check, as bff.router does', async () => {
    const outside = await bff.fetch(new Request(`${ORIGIN}/api/login`, { method: 'POST', headers: { 'X-CSRF': '1' } }));
    expect({ status: outside.status, body: await outside.json() }).toEqual({ status: 404, body: { error: 'not_found', message: 'Not found.' } });
    const unknown = await bff.fetch(new Request(`${ORIGIN}/auth/nope`));
    expect((await unknown.json()) as { error: string }).toMatchObject({ error: 'csrf_rejected' });
  });

  it('answers HEAD like GET without a body, and a GET whose headers claim a body it cannot have as bodiless', async () => {
    const head = await bff.fetch(new Request(`${ORIGIN}/auth/jwks.json`, { method: 'HEAD' }));
    expect(head.status).toBe(200);
    expect(head.headers.get('cache-control')).toBe('public, max-age=60');
    expect(await head.text()).toBe('');
    const get = await bff.fetch(new Request(`${ORIGIN}/auth/sessions`, { headers: { 'X-CSRF': '1', 'Content-Length': '12', 'Content-Type': 'text/plain' } }));
    expect(((await get.json()) as { error: string }).error).toBe('no_session');
  });

  it('counts the per-IP login limit on clientAddress: each address its own, and all callers together without one', async () => {
    const attempt = (clientAddress?: string) =>
      bff.fetch(post('/auth/login', { username: 'alice', password: 'wrong' }), clientAddress === undefined ? undefined : { clientAddress });
    expect((await attempt('198.51.100.1')).status).toBe(401);
    expect((await attempt('198.51.100.1')).status).toBe(401);
    expect((await attempt('198.51.100.1')).status).toBe(429);
    expect((await attempt('198.51.100.2')).status).toBe(401);
    expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(401);
    const shared = await attempt();
    expect(shared.status).toBe(429);
    expect(shared.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});
