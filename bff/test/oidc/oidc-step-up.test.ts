/**
 * Step-up and authentication age at a real OpenID Provider (the development IdP, node-oidc-provider): `max_age` sent
 * and `auth_time` checked (oidc.maxAuthAgeSeconds), re-authentication of the same device session with prompt=login
 * (`GET /oidc/login?reauth=1`), and the bound on a session whose IdP issued no refresh token.
 */
import { authorizeAtIdp, HttpDevice, returnFromIdp, sleep } from '@latchkey/testkit';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { signIn, startOidcStack, type OidcStack } from '../helpers/oidc.js';
import { TestClock } from '../helpers/test-clock.js';

const CSRF = { 'X-CSRF': '1', 'Content-Type': 'application/json' };

let stack: OidcStack;
let clock: TestClock;
afterEach(async () => {
  await stack?.close();
});

async function start(oidc: Parameters<typeof startOidcStack>[1] = {}) {
  // Running with real time (the IdP's clock), moved ahead by hand where a test needs time to pass.
  clock = TestClock.running();
  stack = await startOidcStack(new MemoryStore({ warnInProduction: false, clock }), oidc, { clock });
  stack.bff.app.get('/api/recent', stack.bff.bff.requireAuth({ maxAuthAgeSeconds: 30 }), (req, res) => void res.json({ sid: req.auth!.sid }));
  stack.bff.app.use(stack.bff.bff.errorHandler);
}

const refresh = (browser: HttpDevice) => browser.request(`${stack.origin}/auth/refresh`, { method: 'POST', headers: CSRF });
const token = async (browser: HttpDevice) => {
  const res = await refresh(browser);
  expect(res.status).toBe(200);
  return (await res.json()) as { accessToken: string; session: { id: string }; user: { id: string } };
};
const aliceId = () => `${stack.idp.issuer}|idp-alice`;
const reauthStart = (browser: HttpDevice, query = '') =>
  browser.request(`${stack.origin}/auth/oidc/login?reauth=1&returnTo=%2Fapp${query}`, { from: `${stack.origin}/` });

describe('re-authentication at the IdP (GET /oidc/login?reauth=1)', () => {
  it('sends prompt=login and max_age=0 (and acr_values), and re-stamps the same device session: same sid, newer auth_time, no new cookie', async () => {
    await start();
    const browser = new HttpDevice();
    expect((await signIn(browser, stack.origin)).status).toBe(303);
    const before = await token(browser);
    const firstAuthTime = decodeJwt(before.accessToken).auth_time!;
    const cookie = browser.cookieAt(stack.origin, 'latchkey');
    await sleep(1100);

    const started = await reauthStart(browser, '&acr_values=urn%3Agold');
    expect(started.status).toBe(303);
    const authorization = new URL(started.headers.get('location')!);
    expect(authorization.searchParams.get('prompt')).toBe('login');
    expect(authorization.searchParams.get('max_age')).toBe('0');
    expect(authorization.searchParams.get('acr_values')).toBe('urn:gold');
    // The IdP asks for the password again although its own session is alive (prompt=login).
    const callback = await authorizeAtIdp(browser, authorization.href, 'alice', 'wonderland');
    const back = await returnFromIdp(browser, callback);
    expect(back.status).toBe(303);
    expect(back.headers.get('location')).toBe('/app');
    expect(browser.cookieAt(stack.origin, 'latchkey')).toBe(cookie);

    const after = await token(browser);
    expect(after.session.id).toBe(before.session.id);
    expect(decodeJwt(after.accessToken).auth_time as number).toBeGreaterThan(firstAuthTime as number);
    expect((await stack.bff.store.listUserSessions(aliceId(), clock.now())).map((s) => s.sid)).toEqual([before.session.id]);
    expect((await request(stack.bff.app).get('/api/recent').set('Authorization', `Bearer ${after.accessToken}`)).status).toBe(200);
  });

  it('refuses another IdP user and changes nothing (a step-up never switches accounts)', async () => {
    await start();
    const first = new HttpDevice();
    await signIn(first, stack.origin);
    const aliceCookie = first.cookieAt(stack.origin, 'latchkey')!;
    const [before] = await stack.bff.store.listUserSessions(aliceId(), clock.now());
    // A browser holding alice's session but no IdP session (the IdP's own answer to a user switch is its logout page).
    const browser = new HttpDevice(stack.origin, { sessionCookieName: 'latchkey' });
    browser.cookie = aliceCookie;
    const started = await reauthStart(browser);
    const callback = await authorizeAtIdp(browser, started.headers.get('location')!, 'bob', 'builder');
    const back = await returnFromIdp(browser, callback);
    expect(back.status).toBe(400);
    expect(await back.json()).toMatchObject({ error: 'oidc_login_failed', message: expect.stringMatching(/another user/) });
    expect(await stack.bff.store.listUserSessions(aliceId(), clock.now())).toEqual([before]);
    expect(await stack.bff.store.listUserSessions(`${stack.idp.issuer}|idp-bob`, clock.now())).toEqual([]);
  });

  it('needs a session in this browser, and refuses a bad reauth or acr_values', async () => {
    await start();
    const browser = new HttpDevice();
    const none = await reauthStart(browser);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: string }).error).toBe('no_session');
    await signIn(browser, stack.origin);
    const bad = await browser.request(`${stack.origin}/auth/oidc/login?reauth=yes`, { from: `${stack.origin}/` });
    expect(bad.status).toBe(400);
    expect((await reauthStart(browser, '&acr_values=%22')).status).toBe(400);
  });
});

describe('oidc.maxAuthAgeSeconds', () => {
  it('sends max_age at sign-in, and refuses an ID token whose auth_time is older (the IdP kept an older session)', async () => {
    await start({ maxAuthAgeSeconds: 60 });
    const browser = new HttpDevice();
    const started = await browser.request(`${stack.origin}/auth/oidc/login?returnTo=%2Fapp`, { from: `${stack.origin}/` });
    const authorization = new URL(started.headers.get('location')!);
    expect(authorization.searchParams.get('max_age')).toBe('60');
    expect(authorization.searchParams.has('prompt')).toBe(false);
    const back = await returnFromIdp(browser, await authorizeAtIdp(browser, authorization.href));
    expect(back.status).toBe(303);
    const first = await token(browser);
    expect(decodeJwt(first.accessToken).auth_time).toBeGreaterThan(0);

    // For the BFF two minutes pass; the IdP (real time) still has its session and signs in silently with its old auth_time.
    clock.advance(120_000);
    const again = await signIn(browser, stack.origin);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'oidc_login_failed', message: expect.stringMatching(/older than allowed/) });
  });
});

describe('a session whose IdP issued no refresh token', () => {
  it('ends (session_expired) recheckWithoutRefreshTokenSeconds after its authentication, instead of never', async () => {
    await start({ recheckWithoutRefreshTokenSeconds: 600 });
    const browser = new HttpDevice();
    await signIn(browser, stack.origin);
    const [session] = await stack.bff.store.listUserSessions(aliceId(), clock.now());
    // The development IdP always issues one; the session is made one an IdP without refresh tokens would have left.
    expect(await stack.bff.store.updateIdpTokens(session!.key, { ...session!.idp!, refreshTokenSealed: null }, clock.now())).toBe(true);
    clock.advance(590_000);
    expect((await refresh(browser)).status).toBe(200);
    clock.advance(20_000);
    const ended = await refresh(browser);
    expect(ended.status).toBe(401);
    expect(((await ended.json()) as { error: string }).error).toBe('session_expired');
    expect(await stack.bff.store.listUserSessions(aliceId(), clock.now())).toEqual([]);
  });
});
