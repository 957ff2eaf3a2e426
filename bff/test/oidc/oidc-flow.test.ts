/**
 * Sign-in through an upstream OpenID Provider, against a real node-oidc-provider on a free port (never a mock), on the
 * memory store and on a real redis-server: the flow, every bad input (each a clear error and nothing stored), the
 * back-channel logout (IdP-signed, forged, replayed), and refresh at the IdP (renewal, invalid_grant, IdP down).
 * RP-initiated logout: oidc-rp-logout.test.ts; the ID token's signature: oidc-id-token.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { generateKeyPair, importJWK, SignJWT, exportJWK } from 'jose';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { unsealWithAny } from '../../src/crypto/seal.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { DeviceSessionRecord, SessionStore } from '../../src/store/types.js';
import { SECRET } from '../helpers/harness.js';
import { authorizeAtIdp, HttpDevice, type RedisServer, returnFromIdp, startLogin, startRedisServer } from '@latchkey/testkit';
import { IDP_CLIENT_ID, IDP_CLIENT_SECRET, signIn, startOidcStack, type OidcStack } from '../helpers/oidc.js';
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
  ['Redis', async () => RedisStore.connect({ url: redis.url, prefix: `lkoidc:${randomUUID()}:` })],
];

const CSRF = { 'X-CSRF': '1', 'Content-Type': 'application/json' };
const BACKCHANNEL_EVENT = { 'http://schemas.openid.net/event/backchannel-logout': {} };

describe.each(stores)('OIDC sign-in on the %s store', (_name, openStore) => {
  let stack: OidcStack;
  let aliceId: string;
  let bobId: string;

  beforeEach(async () => {
    stack = await startOidcStack(await openStore());
    aliceId = `${stack.idp.issuer}|idp-alice`;
    bobId = `${stack.idp.issuer}|idp-bob`;
  });
  afterEach(async () => {
    await stack?.close();
  });

  const sessionsOf = (userId: string) => stack.bff.store.listUserSessions(userId, Date.now());
  const refresh = (browser: HttpDevice) => browser.request(`${stack.origin}/auth/refresh`, { method: 'POST', headers: CSRF });
  const apiMe = (token: string) => request(stack.bff.app).get('/api/me').set('Authorization', `Bearer ${token}`);

  /** Expects a clear 400 oidc_login_failed from the callback and that nothing was stored for alice. */
  async function expectLoginFailed(res: Response, message: RegExp, browser: HttpDevice) {
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; message: string };
    expect(body).toEqual({ error: 'oidc_login_failed', message: expect.stringMatching(message) });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(browser.cookieAt(stack.origin, 'latchkey')).toBeUndefined();
    expect(browser.cookieAt(stack.origin, 'latchkey-oidc')).toBeUndefined();
    expect(await sessionsOf(aliceId)).toEqual([]);
  }

  describe('the redirect flow', () => {
    it('signs in: 303 to returnTo, a device session with the IdP link sealed, the token from /refresh', async () => {
      const browser = new HttpDevice();
      const authorization = await startLogin(browser, stack.origin, '/app?tab=1#top');
      // Authorization code + PKCE S256 + state + nonce, to the registered redirect URI.
      expect(Object.fromEntries(authorization.searchParams)).toMatchObject({
        client_id: IDP_CLIENT_ID,
        response_type: 'code',
        redirect_uri: `${stack.origin}/auth/oidc/callback`,
        code_challenge_method: 'S256',
        scope: 'openid profile email offline_access',
        state: expect.stringMatching(/^[\w-]{20,}$/),
        nonce: expect.stringMatching(/^[\w-]{20,}$/),
        code_challenge: expect.stringMatching(/^[\w-]{43}$/),
      });
      expect(browser.cookieAt(stack.origin, 'latchkey-oidc')).toBeDefined();

      const callback = await authorizeAtIdp(browser, authorization.href);
      expect(callback.searchParams.get('iss')).toBe(stack.idp.issuer);
      const res = await returnFromIdp(browser, callback.href);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/app?tab=1#top');
      expect(res.headers.get('cache-control')).toBe('no-store');
      // The transaction is gone (cookie cleared), the session cookie set; no IdP token in the answer.
      expect(browser.cookieAt(stack.origin, 'latchkey-oidc')).toBeUndefined();
      expect(browser.cookieAt(stack.origin, 'latchkey')).toMatch(/^v1\./);
      const answer = JSON.stringify([...res.headers]) + (await res.text());

      const [session] = await sessionsOf(aliceId);
      expect(session).toMatchObject({ userId: aliceId, userName: 'Alice Liddell', idp: { iss: stack.idp.issuer, sub: 'idp-alice', sid: expect.any(String) } });
      const refreshToken = unsealWithAny(session!.idp!.refreshTokenSealed!, [SECRET], 'latchkey idp refresh_token v1');
      const idToken = unsealWithAny(session!.idp!.idTokenSealed!, [SECRET], 'latchkey idp id_token v1');
      expect(refreshToken).toMatch(/\S{20,}/);
      expect(idToken?.split('.')).toHaveLength(3);
      expect(session!.idp!.refreshTokenSealed).not.toContain(refreshToken);
      expect(answer).not.toContain(refreshToken);
      expect(answer).not.toContain(idToken);

      const refreshed = await refresh(browser);
      expect(refreshed.status).toBe(200);
      const body = (await refreshed.json()) as { accessToken: string; user: unknown; session: { id: string } };
      expect(body.user).toEqual({ id: aliceId, name: 'Alice Liddell' });
      expect(body.session.id).toBe(session!.sid);
      expect(JSON.stringify(body)).not.toContain(refreshToken);
      expect((await apiMe(body.accessToken)).body).toEqual({ sub: aliceId, sid: session!.sid });
      // Nothing the IdP issued reaches a log.
      for (const line of stack.bff.logLines) {
        expect(line).not.toContain(refreshToken);
        expect(line).not.toContain(idToken);
      }
    });

    it('needs no X-CSRF header on the navigations, and the cookie routes still do', async () => {
      const browser = new HttpDevice();
      expect((await browser.request(`${stack.origin}/auth/oidc/login`)).status).toBe(303);
      const res = await browser.request(`${stack.origin}/auth/refresh`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
      expect(res.status).toBe(403);
    });

    it('defaults returnTo to / and keeps an absolute URL on the own origin', async () => {
      const first = new HttpDevice();
      const auth = await first.request(`${stack.origin}/auth/oidc/login`);
      const callback = await authorizeAtIdp(first, auth.headers.get('location')!);
      expect((await returnFromIdp(first, callback.href)).headers.get('location')).toBe('/');
      const second = new HttpDevice();
      const res = await signIn(second, stack.origin, 'bob', `${stack.origin}/deep/link?x=1`);
      expect(res.headers.get('location')).toBe(`${stack.origin}/deep/link?x=1`);
      expect(await sessionsOf(bobId)).toHaveLength(1);
    });

    it('a second sign-in in the same browser replaces its session (no pile-up), though the callback never sees its Strict cookie', async () => {
      const browser = new HttpDevice();
      await signIn(browser, stack.origin);
      const [first] = await sessionsOf(aliceId);
      const firstToken = ((await (await refresh(browser)).json()) as { accessToken: string }).accessToken;
      const firstCookie = browser.cookieAt(stack.origin, 'latchkey')!;
      // The IdP is another site: the callback, a navigation from it, carries the Lax transaction cookie only.
      const authorization = await startLogin(browser, stack.origin);
      const callback = await authorizeAtIdp(browser, authorization.href);
      expect(browser.jar.header(callback.href, { initiators: [browser.lastUrl!], navigation: true, method: 'GET' })).toMatch(/^latchkey-oidc=[^;]+$/);
      expect((await returnFromIdp(browser, callback)).status).toBe(303);

      const sessions = await sessionsOf(aliceId);
      expect(sessions).toHaveLength(1);
      expect(sessions[0]!.sid).not.toBe(first!.sid);
      // The previous session is over: its cookie refreshes no more, its access token is refused.
      const old = new HttpDevice(stack.origin, { sessionCookieName: 'latchkey' });
      old.cookie = firstCookie;
      expect((await old.request(`${stack.origin}/auth/refresh`, { method: 'POST', headers: CSRF })).status).toBe(401);
      await vi.waitFor(async () => expect((await apiMe(firstToken)).status).toBe(401));
      expect(stack.bff.logLines.some((l) => l.includes('"session_replaced"'))).toBe(true);
    });

    it('a sign-in from a browser with a forged copy of another device’s cookie ends nothing', async () => {
      const device = new HttpDevice(stack.origin, { sessionCookieName: 'latchkey' });
      await signIn(device, stack.origin);
      const [first] = await sessionsOf(aliceId);
      const other = new HttpDevice(stack.origin, { sessionCookieName: 'latchkey' });
      other.cookie = `${device.cookie!.slice(0, -2)}xx`; // not a cookie this BFF signed
      await signIn(other, stack.origin, 'bob');
      expect((await sessionsOf(aliceId)).map((s) => s.sid)).toEqual([first!.sid]);
    });
  });

  describe('bad input: a clear error, nothing stored', () => {
    it.each([
      ['another host', 'https://evil.example/steal'],
      ['a protocol-relative URL', '//evil.example/steal'],
      ['a backslash trick', '/\\evil.example'],
      ['javascript:', 'javascript:alert(1)'],
      ['another port of this host', 'http://127.0.0.1:1/x'],
      ['a dot segment before //', '/.//evil.example/phish'],
      ['a dot-dot segment before //', '/..//evil.example/phish'],
      ['an encoded dot before //', '/%2e//evil.example/phish'],
      ['encoded dot-dot before //', '/%2E%2E//evil.example/phish'],
      ['a folder and dot-dot before //', '/a/..//evil.example/phish'],
      ['dot-dots past the root before //', '/x/../..//evil.example/phish'],
    ])('open redirect: returnTo on %s is refused before anything starts', async (_label, returnTo) => {
      const browser = new HttpDevice();
      const res = await browser.request(`${stack.origin}/auth/oidc/login?returnTo=${encodeURIComponent(returnTo)}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: 'invalid_request', message: 'returnTo must be a path or URL on this site.' });
      expect(res.headers.get('location')).toBeNull();
      expect(browser.cookieAt(stack.origin, 'latchkey-oidc')).toBeUndefined();
    });

    it('tampered state', async () => {
      const browser = new HttpDevice();
      const callback = await authorizeAtIdp(browser, (await startLogin(browser, stack.origin)).href);
      callback.searchParams.set('state', `${callback.searchParams.get('state')}x`);
      await expectLoginFailed(await returnFromIdp(browser, callback.href), /did not match/, browser);
    });

    it('replayed state: the callback URL works once; a replay (even with its transaction cookie) is refused', async () => {
      const browser = new HttpDevice();
      const callback = await authorizeAtIdp(browser, (await startLogin(browser, stack.origin)).href);
      const transactionCookie = browser.cookieAt(stack.origin, 'latchkey-oidc')!;
      expect((await returnFromIdp(browser, callback.href)).status).toBe(303);
      const before = await sessionsOf(aliceId);
      const replay = await fetch(callback.href, { redirect: 'manual', headers: { Cookie: `latchkey-oidc=${transactionCookie}` } });
      expect(replay.status).toBe(400);
      expect(await replay.json()).toMatchObject({ error: 'oidc_login_failed', message: expect.stringMatching(/No sign-in is in progress/) });
      expect(await sessionsOf(aliceId)).toEqual(before);
    });

    it('replayed code: an authorization code used once is refused by the IdP the second time', async () => {
      const browser = new HttpDevice();
      const first = await authorizeAtIdp(browser, (await startLogin(browser, stack.origin)).href);
      expect((await returnFromIdp(browser, first.href)).status).toBe(303);
      const before = await sessionsOf(aliceId);
      // A new transaction in the same browser, then the old code delivered with the new state.
      const attacker = new HttpDevice();
      const authorization = await startLogin(attacker, stack.origin);
      const replay = new URL(first);
      replay.searchParams.set('state', authorization.searchParams.get('state')!);
      const res = await attacker.request(replay.href);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'oidc_login_failed', message: 'The identity provider answered invalid_grant.' });
      expect(await sessionsOf(aliceId)).toEqual(before);
    });

    it('wrong nonce: an ID token minted for another nonce is refused', async () => {
      const browser = new HttpDevice();
      const authorization = await startLogin(browser, stack.origin);
      authorization.searchParams.set('nonce', 'a-nonce-this-transaction-never-made');
      const callback = await authorizeAtIdp(browser, authorization.href);
      await expectLoginFailed(await returnFromIdp(browser, callback.href), /did not match/, browser);
    });

    it('error=access_denied: the user cancels at the IdP', async () => {
      const browser = new HttpDevice();
      const authorization = await startLogin(browser, stack.origin);
      const toInteraction = await browser.follow(authorization.href, (next) => next.pathname.includes('/interaction/'));
      const back = await browser.follow(`${toInteraction.stoppedAt!.href}/abort`, (next) => next.pathname === '/auth/oidc/callback');
      expect(back.stoppedAt!.searchParams.get('error')).toBe('access_denied');
      await expectLoginFailed(await returnFromIdp(browser, back.stoppedAt!.href), /access_denied/, browser);
    });

    it('foreign iss in the authorization response (RFC 9207 mix-up defence)', async () => {
      const browser = new HttpDevice();
      const callback = await authorizeAtIdp(browser, (await startLogin(browser, stack.origin)).href);
      callback.searchParams.set('iss', 'https://evil.example');
      await expectLoginFailed(await returnFromIdp(browser, callback.href), /did not match/, browser);
    });

    it('a callback in a browser that did not start the sign-in (login CSRF) is refused', async () => {
      const attacker = new HttpDevice();
      const callback = await authorizeAtIdp(attacker, (await startLogin(attacker, stack.origin)).href);
      const victim = new HttpDevice();
      await expectLoginFailed(await victim.request(callback.href), /No sign-in is in progress/, victim);
    });
  });

  describe('back-channel logout', () => {
    const postLogoutToken = (token: string) =>
      fetch(`${stack.origin}/auth/oidc/backchannel-logout`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
      });

    /** A logout token signed with the IdP's own key (or `key`), claims overridable. */
    async function logoutToken(claims: Record<string, unknown>, options: { key?: Record<string, unknown>; typ?: string | null; alg?: string } = {}) {
      const jwk = options.key ?? stack.idp.signingJwk;
      const alg = options.alg ?? 'RS256';
      const key = alg.startsWith('HS') ? new TextEncoder().encode(IDP_CLIENT_SECRET.padEnd(32, '!')) : await importJWK(jwk as never, alg);
      const header: Record<string, unknown> = { alg, kid: jwk.kid };
      if (options.typ !== null) header.typ = options.typ ?? 'logout+jwt';
      const now = Math.floor(Date.now() / 1000);
      const payload = { iss: stack.idp.issuer, aud: IDP_CLIENT_ID, iat: now, exp: now + 120, events: BACKCHANNEL_EVENT, jti: randomUUID(), ...claims };
      return new SignJWT(payload).setProtectedHeader(header as never).sign(key);
    }

    async function signedInDevice(username = 'alice') {
      const browser = new HttpDevice();
      await signIn(browser, stack.origin, username);
      const res = await refresh(browser);
      const body = (await res.json()) as { accessToken: string; session: { id: string } };
      return { browser, token: body.accessToken, sid: body.session.id };
    }

    it('sid: the IdP (oidc-provider) signs and sends it; that device session ends everywhere, others stay', async () => {
      const device = await signedInDevice();
      const other = await signedInDevice();
      const bob = await signedInDevice('bob');
      const [session] = (await sessionsOf(aliceId)).filter((s) => s.sid === device.sid);
      const client = await stack.idp.provider.Client.find(IDP_CLIENT_ID);
      // oidc-provider's own back-channel logout: a logout token signed with its key, POSTed to our endpoint.
      await (client as unknown as { backchannelLogout(sub: string, sid: string): Promise<void> }).backchannelLogout('idp-alice', session!.idp!.sid!);

      const after = await refresh(device.browser);
      expect(after.status).toBe(401);
      expect(await after.json()).toMatchObject({ error: 'session_revoked' });
      await vi.waitFor(async () => expect((await apiMe(device.token)).status).toBe(401), { timeout: 5000, interval: 50 });
      expect((await refresh(other.browser)).status).toBe(200);
      expect((await refresh(bob.browser)).status).toBe(200);
      expect((await apiMe(other.token)).status).toBe(200);
    });

    it('sub only: every session of that user ends (mapUser of iss and sub), including password sessions of the same id', async () => {
      const one = await signedInDevice();
      const two = await signedInDevice();
      const bob = await signedInDevice('bob');
      const res = await postLogoutToken(await logoutToken({ sub: 'idp-alice' }));
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      for (const device of [one, two]) {
        expect((await refresh(device.browser)).status).toBe(401);
        await vi.waitFor(async () => expect((await apiMe(device.token)).status).toBe(401), { timeout: 5000, interval: 50 });
      }
      expect(await sessionsOf(aliceId)).toEqual([]);
      expect((await refresh(bob.browser)).status).toBe(200);
    });

    it('replay: the same logout token a second time is refused (400) and changes nothing', async () => {
      const device = await signedInDevice();
      const [session] = await sessionsOf(aliceId);
      const token = await logoutToken({ sub: 'idp-alice', sid: session!.idp!.sid });
      expect((await postLogoutToken(token)).status).toBe(200);
      const again = await signedInDevice();
      const replay = await postLogoutToken(token);
      expect(replay.status).toBe(400);
      expect(await replay.json()).toMatchObject({ error: 'invalid_request', error_description: 'The logout token was already used.' });
      expect((await refresh(again.browser)).status).toBe(200);
      expect((await refresh(device.browser)).status).toBe(401);
    });

    describe('forged or malformed tokens: 400 { error, error_description }, nothing ends', () => {
      const cases: Array<[string, (sid: string) => Promise<string> | string]> = [
        [
          'signed with another key under the IdP’s kid',
          async (sid) => {
            const { privateKey } = await generateKeyPair('RS256', { extractable: true });
            return logoutToken({ sid }, { key: { ...(await exportJWK(privateKey)), kid: stack.idp.signingJwk.kid } });
          },
        ],
        ['HS256 with the client secret', (sid) => logoutToken({ sid }, { alg: 'HS256' })],
        [
          'alg none',
          (sid) => {
            const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
            const now = Math.floor(Date.now() / 1000);
            return `${b64({ alg: 'none', typ: 'logout+jwt' })}.${b64({ iss: stack.idp.issuer, aud: IDP_CLIENT_ID, iat: now, jti: randomUUID(), sid, events: BACKCHANNEL_EVENT })}.`;
          },
        ],
        ['wrong audience', (sid) => logoutToken({ sid, aud: 'someone-else' })],
        ['wrong issuer', (sid) => logoutToken({ sid, iss: 'https://evil.example' })],
        ['no events claim', (sid) => logoutToken({ sid, events: undefined })],
        ['the wrong event', (sid) => logoutToken({ sid, events: { 'http://schemas.openid.net/event/other': {} } })],
        ['a nonce', (sid) => logoutToken({ sid, nonce: 'n' })],
        ['neither sid nor sub', () => logoutToken({})],
        ['no jti', (sid) => logoutToken({ sid, jti: undefined })],
        ['typ of an ID token', (sid) => logoutToken({ sid }, { typ: 'JWT' })],
        ['expired', (sid) => logoutToken({ sid, exp: Math.floor(Date.now() / 1000) - 600, iat: Math.floor(Date.now() / 1000) - 700 })],
        ['not a JWT', () => 'not-a-jwt'],
      ];
      it.each(cases)('%s', async (_label, make) => {
        const device = await signedInDevice();
        const [session] = await sessionsOf(aliceId);
        const res = await postLogoutToken(await make(session!.idp!.sid!));
        expect(res.status).toBe(400);
        expect(await res.json()).toEqual({ error: 'invalid_request', message: expect.any(String), error_description: expect.any(String) });
        expect(await sessionsOf(aliceId)).toEqual([session]);
        expect((await refresh(device.browser)).status).toBe(200);
      });

      it('a missing logout_token, and JSON instead of a form', async () => {
        expect((await fetch(`${stack.origin}/auth/oidc/backchannel-logout`, { method: 'POST' })).status).toBe(400);
        const json = await fetch(`${stack.origin}/auth/oidc/backchannel-logout`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ logout_token: await logoutToken({ sub: 'idp-alice' }) }),
        });
        expect(json.status).toBe(400);
      });
    });
  });

  describe('refresh at the IdP', () => {
    let renewing: OidcStack;
    beforeEach(async () => {
      // A margin longer than the IdP's token lifetime: every refresh is due at the IdP (no waiting on the clock).
      renewing = await startOidcStack(await openStore(), { refreshMarginSeconds: 3600 });
    });
    afterEach(async () => {
      await renewing?.close();
    });
    const renewingRefresh = (browser: HttpDevice) => browser.request(`${renewing.origin}/auth/refresh`, { method: 'POST', headers: CSRF });
    const sessionOf = async (): Promise<DeviceSessionRecord> => (await renewing.bff.store.listUserSessions(`${renewing.idp.issuer}|idp-alice`, Date.now()))[0]!;

    it('renews at the IdP with the sealed refresh token and stores the new expiry', async () => {
      const browser = new HttpDevice();
      await signIn(browser, renewing.origin);
      const before = await sessionOf();
      const grants: string[] = [];
      renewing.idp.provider.on('grant.success', (ctx) => grants.push(String(ctx.oidc.params?.grant_type)));
      const res = await renewingRefresh(browser);
      expect(res.status).toBe(200);
      expect(grants).toEqual(['refresh_token']);
      const after = await sessionOf();
      expect(after.idp!.accessExpiresAt).toBeGreaterThanOrEqual(before.idp!.accessExpiresAt);
      expect(after.idp!.sid).toBe(before.idp!.sid);
    });

    it('invalid_grant (the grant was revoked at the IdP): the device session ends, 401 session_revoked', async () => {
      const browser = new HttpDevice();
      await signIn(browser, renewing.origin);
      const first = await renewingRefresh(browser);
      const { accessToken } = (await first.json()) as { accessToken: string };
      const session = await sessionOf();
      const refreshToken = unsealWithAny(session.idp!.refreshTokenSealed!, [SECRET], 'latchkey idp refresh_token v1')!;
      // Revoked through the IdP's own revocation endpoint, as an admin or the user's "sign out" there would.
      const revoked = await fetch(`${renewing.idp.issuer}/token/revocation`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: `Basic ${Buffer.from(`${IDP_CLIENT_ID}:${IDP_CLIENT_SECRET}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }),
      });
      expect(revoked.status).toBe(200);

      const res = await renewingRefresh(browser);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'session_revoked' });
      expect(await renewing.bff.store.listUserSessions(`${renewing.idp.issuer}|idp-alice`, Date.now())).toEqual([]);
      expect(browser.cookieAt(renewing.origin, 'latchkey')).toBeUndefined();
      await vi.waitFor(async () => expect((await request(renewing.bff.app).get('/api/me').set('Authorization', `Bearer ${accessToken}`)).status).toBe(401), {
        timeout: 5000,
        interval: 50,
      });
    });

    it('the IdP down: 503 temporarily_unavailable with Retry-After, never 401; the session is kept and works once it is back', async () => {
      const browser = new HttpDevice();
      await signIn(browser, renewing.origin);
      const session = await sessionOf();
      await renewing.idp.stop();

      const down = await renewingRefresh(browser);
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(await down.json()).toMatchObject({ error: 'temporarily_unavailable' });
      expect((await sessionOf()).sid).toBe(session.sid);
      // Again while down: still 503, never a theft alarm or a sign-out.
      expect((await renewingRefresh(browser)).status).toBe(503);

      await renewing.idp.start();
      const back = await renewingRefresh(browser);
      expect(back.status).toBe(200);
      expect(((await back.json()) as { session: { id: string } }).session.id).toBe(session.sid);
    });
  });
});

describe('OIDC options and the transaction cookie', () => {
  it('the transaction cookie is __Host-latchkey-oidc, HttpOnly, Secure, SameSite=Lax, short-lived', async () => {
    const stack = await startOidcStack(new MemoryStore({ warnInProduction: false }), {}, { dangerouslyAllowInsecureHttp: false });
    try {
      const res = await fetch(`${stack.origin}/auth/oidc/login?returnTo=/x`, { redirect: 'manual' });
      expect(res.status).toBe(303);
      const line = res.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey-oidc='))!;
      expect(line).toMatch(/; Path=\//);
      expect(line).toMatch(/; HttpOnly/);
      expect(line).toMatch(/; Secure/);
      expect(line).toMatch(/; SameSite=Lax/);
      const expires = Date.parse(/Expires=([^;]+)/.exec(line)![1]!);
      expect(expires - Date.now()).toBeLessThanOrEqual(600_000);
      expect(line).not.toMatch(/Domain=/i);
    } finally {
      await stack.close();
    }
  });

  it('an expired transaction is refused and stores nothing', async () => {
    const clock = new TestClock();
    const stack = await startOidcStack(new MemoryStore({ warnInProduction: false, clock }), {}, { clock }, { transactionTtlSeconds: 1 });
    try {
      const browser = new HttpDevice();
      const callback = await authorizeAtIdp(browser, (await startLogin(browser, stack.origin)).href);
      const cookie = browser.cookieAt(stack.origin, 'latchkey-oidc')!;
      // Past the transaction's lifetime (the store forgets it; the cookie would be gone too).
      clock.advance(1500);
      const res = await fetch(callback.href, { redirect: 'manual', headers: { Cookie: `latchkey-oidc=${cookie}` } });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'oidc_login_failed', message: expect.stringMatching(/No sign-in is in progress/) });
      expect(await stack.bff.store.listUserSessions(`${stack.idp.issuer}|idp-alice`, Date.now())).toEqual([]);
    } finally {
      await stack.close();
    }
  });

  it('the IdP unreachable at sign-in: 503 with Retry-After, and password login still works', async () => {
    const stack = await startOidcStack(new MemoryStore({ warnInProduction: false }));
    try {
      await stack.idp.stop();
      const res = await fetch(`${stack.origin}/auth/oidc/login`, { redirect: 'manual' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      const password = await request(stack.bff.app).post('/auth/login').set('X-CSRF', '1').send({ username: 'alice', password: 'wonderland' });
      expect(password.status).toBe(200);
      await stack.idp.start();
      expect((await fetch(`${stack.origin}/auth/oidc/login`, { redirect: 'manual' })).status).toBe(303);
    } finally {
      await stack.close();
    }
  });

  it('counts failed sign-ins in latchkey_logins_total', async () => {
    const stack = await startOidcStack(new MemoryStore({ warnInProduction: false }));
    try {
      await fetch(`${stack.origin}/auth/oidc/callback?code=x&state=y`, { redirect: 'manual' });
      expect(await stack.bff.bff.metrics.registry.metrics()).toMatch(/latchkey_logins_total\{outcome="oidc_login_failed"\} 1/);
    } finally {
      await stack.close();
    }
  });

  it('rejects invalid oidc options at createBff', async () => {
    const base = { issuer: 'https://idp.example', clientId: 'c', redirectUri: 'https://app.example/auth/oidc/callback' };
    const store = () => new MemoryStore({ warnInProduction: false });
    // Client authentication is one field: a secret without its method, or both kinds at once, are refused.
    await expect(startOidcStack(store(), { ...base, clientAuth: { secret: 's' } as never })).rejects.toThrow(/clientAuth/);
    await expect(
      startOidcStack(store(), { ...base, clientAuth: { method: 'client_secret_basic', secret: 's', privateJwk: { kty: 'EC' } } as never }),
    ).rejects.toThrow(/unknown option "oidc\.providers\.test\.clientAuth\.privateJwk"/);
    await expect(startOidcStack(store(), { ...base, clientSecret: 's' } as never)).rejects.toThrow(/unknown option "oidc\.providers\.test\.clientSecret"/);
    await expect(startOidcStack(store(), { scopes: ['profile'] })).rejects.toThrow(/openid/);
  });
});
