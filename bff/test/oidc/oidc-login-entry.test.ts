/**
 * The sign-in entry point, `GET /auth/oidc/login`, against a real node-oidc-provider on the memory store and on a real
 * redis-server: only a same-site top-level navigation starts a sign-in (Fetch Metadata), a refused request counts and
 * writes nothing, sign-in starts have their own limit (apart from password logins'), and a loop of sign-ins in a
 * browser with an SSO session at the IdP cannot evict the user's devices in use (the session cap's eviction order).
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authorizeAtIdp, HttpDevice, returnFromIdp, startLogin, startRedisServer, type RedisServer } from '@latchkey/testkit';
import type { OidcProviderOptions } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { SessionStore } from '../../src/store/types.js';
import { startOidcStack, type OidcStack } from '../helpers/oidc.js';
import type { TestBffOverrides } from '../helpers/harness.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const stores: Array<[string, () => Promise<SessionStore>]> = [
  ['memory', async () => new MemoryStore({ warnInProduction: false })],
  ['Redis', async () => RedisStore.connect({ url: redis.url, prefix: `lkentry:${randomUUID()}:` })],
];

/** Counts the login transactions the BFF writes, by id (wraps the store's transaction store; the store itself is real). */
function countTransactionWrites(store: SessionStore): () => number {
  const written = new Set<string>();
  const create = store.createLoginTransactionStore!.bind(store);
  store.createLoginTransactionStore = (prefix) => {
    const transactions = create(prefix);
    const set = transactions.set.bind(transactions);
    transactions.set = (id, data, callback) => {
      written.add(id);
      set(id, data, callback);
    };
    return transactions;
  };
  return () => written.size;
}

type FetchMetadata = Record<string, string>;
/** What a browser sends with a top-level navigation from one of the site's own pages (the sign-in button). */
const SAME_ORIGIN_NAVIGATION: FetchMetadata = { 'Sec-Fetch-Site': 'same-origin', 'Sec-Fetch-Mode': 'navigate', 'Sec-Fetch-Dest': 'document' };
const meta = (site: string, mode?: string, dest?: string): FetchMetadata => ({
  'Sec-Fetch-Site': site,
  ...(mode ? { 'Sec-Fetch-Mode': mode } : {}),
  ...(dest ? { 'Sec-Fetch-Dest': dest } : {}),
});

/** What browsers send for requests that must not start a sign-in. */
const REFUSED: Array<[string, FetchMetadata]> = [
  ['a link or script navigation from another site', meta('cross-site', 'navigate', 'document')],
  ['another site framing it', meta('cross-site', 'navigate', 'iframe')],
  ['a frame on this site (not top-level)', meta('same-origin', 'navigate', 'iframe')],
  ['an image on another site', meta('cross-site', 'no-cors', 'image')],
  ['an image on this site', meta('same-origin', 'no-cors', 'image')],
  ['a script on another site', meta('cross-site', 'no-cors', 'script')],
  ['fetch() from a page of this site', meta('same-origin', 'cors', 'empty')],
  ['a sibling site’s fetch()', meta('same-site', 'cors', 'empty')],
  ['a form post target, cross-site, as a nested navigation', meta('cross-site', 'navigate', 'frame')],
  ['Sec-Fetch-Site without Sec-Fetch-Mode', meta('same-origin')],
  ['an unknown Sec-Fetch-Site value', meta('somewhere', 'navigate', 'document')],
];

/** What starts one. */
const ACCEPTED: Array<[string, FetchMetadata]> = [
  ['the sign-in button (same-origin top-level navigation)', { ...SAME_ORIGIN_NAVIGATION }],
  ['a page on a sibling origin of the same site', meta('same-site', 'navigate', 'document')],
  ['typed, bookmarked or opened from another application', meta('none', 'navigate', 'document')],
  ['a browser that sends no Sec-Fetch-Dest (Chrome 76 to 79)', meta('same-origin', 'navigate')],
  ['no Sec-Fetch-Site: an older browser or an HTTP client (Node’s fetch sends Sec-Fetch-Mode: cors only)', { 'Sec-Fetch-Mode': 'cors' }],
  ['no headers at all', {}],
];

describe.each(stores)('the sign-in entry point on the %s store', (_name, openStore) => {
  let stack: OidcStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  async function start(oidc: Partial<OidcProviderOptions> = {}, overrides: TestBffOverrides = {}) {
    const store = await openStore();
    const transactionWrites = countTransactionWrites(store);
    stack = await startOidcStack(store, oidc, overrides);
    return { stack, transactionWrites };
  }

  /**
   * GET /auth/oidc/login with exactly these headers. Not through fetch(): Node's fetch replaces Sec-Fetch-Mode with
   * `cors` whatever it is given (which is why an HTTP client without Sec-Fetch-Site passes).
   */
  const loginStart = async (s: OidcStack, headers: FetchMetadata) => {
    const res = await request(s.origin).get('/auth/oidc/login?returnTo=/app').set(headers).redirects(0);
    return {
      status: res.status,
      body: res.body as unknown,
      header: (name: string) => (res.headers[name] as string | undefined) ?? null,
      setCookies: (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [],
    };
  };

  it.each(REFUSED)('refuses %s: 403 csrf_rejected, no cookie, no transaction, not counted', async (_label, headers) => {
    const { stack, transactionWrites } = await start({}, { rateLimit: { oidcLogin: { perIp: { limit: 2, windowMs: 60_000 } } } });
    for (let i = 0; i < 5; i++) {
      const res = await loginStart(stack, headers);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: 'csrf_rejected', message: 'A sign-in starts only from a page of this site, as a top-level navigation.' });
      expect(res.header('cache-control')).toBe('no-store');
      expect(res.header('location')).toBeNull();
      expect(res.setCookies).toEqual([]);
    }
    expect(transactionWrites()).toBe(0);
    // Five refusals, a limit of two: none of them was counted.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await loginStart(stack, { ...SAME_ORIGIN_NAVIGATION })).status);
    expect(statuses).toEqual([303, 303, 429]);
    expect(transactionWrites()).toBe(2);
    const refusals = stack.bff.logLines.filter((l) => l.includes('"event":"oidc_login_refused"'));
    expect(refusals).toHaveLength(5);
    expect(JSON.parse(refusals[0]!)).toMatchObject({ level: 40, ip: expect.any(String), site: headers['Sec-Fetch-Site'] });
  });

  it.each(ACCEPTED)('starts a sign-in for %s', async (_label, headers) => {
    const { stack, transactionWrites } = await start();
    const res = await loginStart(stack, headers);
    expect(res.status).toBe(303);
    expect(new URL(res.header('location')!).origin).toBe(new URL(stack.idp.issuer).origin);
    expect(transactionWrites()).toBe(1);
  });

  it('sign-in starts have their own per-IP limit: they never use up the password login limit', async () => {
    const { stack } = await start(
      {},
      { rateLimit: { login: { perIp: { limit: 2, windowMs: 60_000 } }, oidcLogin: { perIp: { limit: 3, windowMs: 60_000 } } } },
    );
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await loginStart(stack, { ...SAME_ORIGIN_NAVIGATION })).status);
    expect(statuses).toEqual([303, 303, 303]);
    const over = await loginStart(stack, { ...SAME_ORIGIN_NAVIGATION });
    expect(over.status).toBe(429);
    expect(over.header('retry-after')).toMatch(/^\d+$/);
    expect(over.body).toMatchObject({ error: 'rate_limited' });
    expect(await stack.bff.bff.metrics.registry.metrics()).toMatch(/latchkey_logins_total\{outcome="oidc_login_rate_limited"\} 1/);
    // The password login limit (2) is untouched by four sign-in starts.
    const password = () => request(stack.bff.app).post('/auth/login').set('X-CSRF', '1').send({ username: 'alice', password: 'wonderland' });
    expect((await password()).status).toBe(200);
    expect((await password()).status).toBe(200);
    expect((await password()).status).toBe(429);
  });

  it('31 cross-site images: POST /auth/login still answers, and nothing was written', async () => {
    // The default limits (30 password logins, 30 sign-in starts a minute per IP).
    const { stack, transactionWrites } = await start();
    for (let i = 0; i < 31; i++) expect((await loginStart(stack, meta('cross-site', 'no-cors', 'image'))).status).toBe(403);
    expect(transactionWrites()).toBe(0);
    const password = await request(stack.bff.app).post('/auth/login').set('X-CSRF', '1').send({ username: 'alice', password: 'wonderland' });
    expect(password.status).toBe(200);
    expect((await loginStart(stack, { ...SAME_ORIGIN_NAVIGATION })).status).toBe(303);
  });

  it('a loop of silent sign-ins (SSO session at the IdP, no Fetch Metadata) never evicts a device in use', async () => {
    const cap = 3;
    // One user whichever way alice signs in, as the demo maps its IdP's users.
    const { stack } = await start({ mapUser: () => ({ id: 'user-alice', name: 'Alice' }) }, { session: { maxPerUser: cap } });
    const phone = new HttpDevice(stack.origin, { sessionCookieName: 'latchkey' });
    await phone.login('alice', 'wonderland');
    expect((await phone.refresh()).status).toBe(200);

    // The victim's browser: signed in at the IdP once; every later round trip is silent.
    const browser = new HttpDevice();
    const authorization = await startLogin(browser, stack.origin);
    expect((await returnFromIdp(browser, await authorizeAtIdp(browser, authorization.href))).status).toBe(303);
    for (let round = 0; round < 6; round++) {
      // The callback ends a cross-site redirect chain: the Strict session cookie is not sent, so each round is a new session.
      browser.jar.set(stack.origin, 'latchkey', null);
      const silent = await authorizeAtIdp(browser, (await startLogin(browser, stack.origin)).href);
      expect((await returnFromIdp(browser, silent)).status).toBe(303);
    }

    const sessions = await stack.bff.store.listUserSessions('user-alice', Date.now());
    expect(sessions).toHaveLength(cap);
    expect(sessions.map((s) => s.sid)).toContain(phone.sid);
    expect((await phone.refresh()).status).toBe(200);
  });
});
