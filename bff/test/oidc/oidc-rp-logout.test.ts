/**
 * RP-initiated logout against a real node-oidc-provider, on the memory store and on a real redis-server: POST /logout
 * gives the page only the BFF's GET /oidc/logout; that route, with this browser's single-use logout handle, adds the
 * ID token hint server-side and answers 303 to the IdP. The raw ID token never reaches the page; a third party, a
 * replay or an expired handle gets a 400 with no Location.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { unsealWithAny } from '../../src/crypto/seal.js';
import type { BffContext } from '../../src/context.js';
import { LOGOUT_HANDLE_TTL_SECONDS, takeLogoutHandle } from '../../src/oidc/logout-handle.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { SessionStore } from '../../src/store/types.js';
import { SECRET } from '../helpers/harness.js';
import { HttpDevice, type RedisServer, startRedisServer } from '@latchkey/testkit';
import { IDP_CLIENT_ID, TEST_PROVIDER, signIn, startOidcStack, type OidcStack } from '../helpers/oidc.js';
import { TestClock } from '../helpers/test-clock.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const stores: Array<[string, () => Promise<SessionStore>]> = [
  ['memory', async () => new MemoryStore({ warnInProduction: false })],
  ['Redis', async () => RedisStore.connect({ url: redis.url, prefix: `lkrpl:${randomUUID()}:` })],
];

const CSRF = { 'X-CSRF': '1', 'Content-Type': 'application/json' };
const REFUSED = { error: 'invalid_request', message: 'No sign-out is in progress in this browser (it expired, was already used, or was not started here).' };

/** Signs alice in, then POST /logout: the answer, its body, and the ID token the IdP issued. */
async function signInAndLogOut(stack: OidcStack, browser = new HttpDevice()) {
  await signIn(browser, stack.origin);
  const [session] = await stack.bff.store.listUserSessions(`${stack.idp.issuer}|idp-alice`, Date.now());
  const idToken = unsealWithAny(session!.idp!.idTokenSealed!, [SECRET], 'latchkey idp id_token v1')!;
  const res = await browser.request(`${stack.origin}/auth/logout`, { method: 'POST', headers: CSRF });
  const text = await res.text();
  return { browser, res, text, idToken, sealed: session!.idp!.idTokenSealed!, logoutCookie: browser.cookieAt(stack.origin, 'latchkey-logout') };
}

async function expectRefused(res: Response) {
  expect(res.status).toBe(400);
  expect(await res.json()).toEqual(REFUSED);
  expect(res.headers.get('location')).toBeNull();
  expect(res.headers.get('cache-control')).toBe('no-store');
}

describe.each(stores)('RP-initiated logout on the %s store', (_name, openStore) => {
  let stack: OidcStack;
  beforeEach(async () => {
    stack = await startOidcStack(await openStore());
  });
  afterEach(async () => {
    await stack?.close();
  });
  const logoutRoute = () => `${stack.origin}/auth/oidc/logout`;

  it('the page gets only the BFF route; the route answers 303 to the IdP with the hint added server-side', async () => {
    const { browser, res, text, idToken, sealed, logoutCookie } = await signInAndLogOut(stack);
    expect(res.status).toBe(200);
    expect(JSON.parse(text)).toEqual({ redirectTo: logoutRoute() });
    // Nothing the page can read carries the ID token, sealed or not.
    const answer = JSON.stringify([...res.headers]) + text;
    expect(answer).not.toContain(idToken);
    expect(answer).not.toContain(sealed);
    expect(answer).not.toContain(idToken.split('.')[1]!);
    // The handle: a random value in an HttpOnly, SameSite=Strict cookie, short-lived.
    expect(logoutCookie).toMatch(/^[\w-]{43}$/);
    const line = res.headers.getSetCookie().find((c) => c.startsWith('latchkey-logout='))!;
    expect(line).toMatch(/; HttpOnly/);
    expect(line).toMatch(/; SameSite=Strict/);
    expect(line).toMatch(new RegExp(`Max-Age=${LOGOUT_HANDLE_TTL_SECONDS}`));
    expect(browser.cookieAt(stack.origin, 'latchkey')).toBeUndefined();
    expect(await stack.bff.store.listUserSessions(`${stack.idp.issuer}|idp-alice`, Date.now())).toEqual([]);

    const redirect = await browser.request(logoutRoute());
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get('cache-control')).toBe('no-store');
    expect(redirect.headers.get('referrer-policy')).toBe('no-referrer');
    const location = new URL(redirect.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(`${stack.idp.issuer}/session/end`);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      id_token_hint: idToken,
      post_logout_redirect_uri: `${stack.origin}/signed-out`,
      client_id: IDP_CLIENT_ID,
    });
    expect(browser.cookieAt(stack.origin, 'latchkey-logout')).toBeUndefined();
    // The IdP accepts it: its logout confirmation page, not an error.
    const confirm = await browser.request(location.href);
    expect(confirm.status).toBe(200);
    expect(await confirm.text()).toMatch(/logout/i);
    for (const logLine of stack.bff.logLines) expect(logLine).not.toContain(idToken);
  });

  it('single use: the same handle a second time (even with its cookie kept) is refused', async () => {
    const { browser, logoutCookie } = await signInAndLogOut(stack);
    expect((await browser.request(logoutRoute())).status).toBe(303);
    await expectRefused(await browser.request(logoutRoute()));
    await expectRefused(await fetch(logoutRoute(), { redirect: 'manual', headers: { Cookie: `latchkey-logout=${logoutCookie}` } }));
  });

  it('two takes of the same handle at once: exactly one gets it (atomic on the store, not get-then-delete)', async () => {
    const { logoutCookie, sealed } = await signInAndLogOut(stack);
    const ctx = { store: stack.bff.store, options: { dangerouslyAllowInsecureHttp: true } } as unknown as BffContext;
    const take = () => takeLogoutHandle(ctx, `latchkey-logout=${logoutCookie}`, () => undefined);
    const both = await Promise.all([take(), take()]);
    expect(both.filter((h) => h !== null)).toEqual([{ idTokenSealed: sealed, provider: TEST_PROVIDER }]);
  });

  it('a third party: another browser, or a cross-site navigation, gets no redirect and uses nothing up', async () => {
    const { browser, logoutCookie } = await signInAndLogOut(stack);
    await expectRefused(await new HttpDevice().request(logoutRoute()));
    await expectRefused(await fetch(logoutRoute(), { redirect: 'manual' }));
    await expectRefused(await fetch(logoutRoute(), { redirect: 'manual', headers: { Cookie: 'latchkey-logout=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } }));
    // A browser without SameSite would send the cookie on a third party's link: Sec-Fetch-Site says where it came from.
    await expectRefused(
      await fetch(logoutRoute(), { redirect: 'manual', headers: { Cookie: `latchkey-logout=${logoutCookie}`, 'Sec-Fetch-Site': 'cross-site' } }),
    );
    // None of that consumed the handle: the browser that signed out still gets to the IdP.
    const own = await browser.request(logoutRoute(), { headers: { 'Sec-Fetch-Site': 'same-origin' } });
    expect(own.status).toBe(303);
    expect(new URL(own.headers.get('location')!).searchParams.get('id_token_hint')).toMatch(/^ey/);
  });

  it('a password session keeps 204 and gets no logout handle', async () => {
    const password = await request(stack.bff.app).post('/auth/login').set('X-CSRF', '1').send({ username: 'alice', password: 'wonderland' });
    const cookie = (password.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const local = await request(stack.bff.app).post('/auth/logout').set('X-CSRF', '1').set('Cookie', cookie).send({});
    expect(local.status).toBe(204);
    expect(((local.headers['set-cookie'] as unknown as string[]) ?? []).some((c) => c.startsWith('latchkey-logout='))).toBe(false);
  });
});

describe('RP-initiated logout: the handle expires', () => {
  it(`refused ${LOGOUT_HANDLE_TTL_SECONDS} s after the logout, even with the cookie kept`, async () => {
    const clock = new TestClock();
    const stack = await startOidcStack(new MemoryStore({ warnInProduction: false, clock }), {}, { clock });
    try {
      const { logoutCookie } = await signInAndLogOut(stack);
      clock.advance(LOGOUT_HANDLE_TTL_SECONDS * 1000);
      await expectRefused(await fetch(`${stack.origin}/auth/oidc/logout`, { redirect: 'manual', headers: { Cookie: `latchkey-logout=${logoutCookie}` } }));
    } finally {
      await stack.close();
    }
  });
});
