/**
 * Several identity providers at once, over real HTTP: two node-oidc-provider instances (the bundled development IdP,
 * never a mock) and a plain OAuth 2.0 provider without OIDC (GitHub-style: authorize, token, user), a small Express app
 * here that enforces PKCE S256, state round-trips and client authentication as a real one does. Signing in through
 * each, the mix-up defence (a callback on another provider's path), back-channel isolation between the providers,
 * `oidc.errorRedirect` for a cancelled sign-in, and the device name carried through the login transaction.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorizeAtIdp, HttpDevice, returnFromIdp } from '@latchkey/testkit';
import { MemoryStore } from '../../src/store/memory.js';
import type { OidcOptions } from '../../src/index.js';
import { startTestBff, type TestBff } from '../helpers/harness.js';
import { IDP_ACCOUNTS, IDP_CLIENT_ID, IDP_CLIENT_SECRET, startTestIdp, type RunningIdp } from '../helpers/oidc.js';

const CSRF = { 'X-CSRF': '1', 'Content-Type': 'application/json' };
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const GH_CLIENT_ID = 'gh-client';
const GH_SECRET = 'gh-secret-0123456789abcdef';

/** A GitHub-style OAuth 2.0 provider: no discovery, no ID token, `GET /user` with the access token. */
interface OAuthProvider {
  origin: string;
  /** The next authorization is refused as if the user pressed "Cancel". */
  denyNext(): void;
  /** How the client authenticated at the token endpoint, per request. */
  tokenRequests: Array<{ clientAuth: 'basic' | 'post' | 'none'; pkce: 'ok' | 'missing' | 'mismatch' }>;
  close(): Promise<void>;
}

async function startOAuthProvider(): Promise<OAuthProvider> {
  const app = express();
  const codes = new Map<string, { challenge: string | undefined; redirectUri: string }>();
  const tokens = new Set<string>();
  const tokenRequests: OAuthProvider['tokenRequests'] = [];
  let deny = false;
  app.get('/login/oauth/authorize', (req, res) => {
    const { redirect_uri, state, code_challenge, code_challenge_method, client_id } = req.query as Record<string, string>;
    const back = new URL(redirect_uri!);
    back.searchParams.set('state', state!);
    if (deny || client_id !== GH_CLIENT_ID) {
      deny = false;
      back.searchParams.set('error', 'access_denied');
    } else {
      const code = randomUUID();
      codes.set(code, { challenge: code_challenge_method === 'S256' ? code_challenge : undefined, redirectUri: redirect_uri! });
      back.searchParams.set('code', code);
    }
    res.redirect(302, back.href);
  });
  app.post('/login/oauth/access_token', express.urlencoded({ extended: false }), (req, res) => {
    const body = req.body as Record<string, string>;
    const basic = req.get('authorization')?.startsWith('Basic ') ?? false;
    const post = body.client_id === GH_CLIENT_ID && body.client_secret === GH_SECRET;
    const entry = codes.get(body.code ?? '');
    codes.delete(body.code ?? '');
    const verifier = body.code_verifier;
    const pkce = !entry?.challenge || !verifier ? 'missing' : createHash('sha256').update(verifier).digest('base64url') === entry.challenge ? 'ok' : 'mismatch';
    tokenRequests.push({ clientAuth: post ? 'post' : basic ? 'basic' : 'none', pkce });
    if (!post) return void res.status(401).json({ error: 'invalid_client' });
    if (!entry || pkce !== 'ok' || entry.redirectUri !== body.redirect_uri) return void res.status(400).json({ error: 'invalid_grant' });
    const accessToken = randomUUID();
    tokens.add(accessToken);
    res.json({ access_token: accessToken, token_type: 'bearer', scope: 'read:user' });
  });
  app.get('/user', (req, res) => {
    if (!tokens.has(req.get('authorization')?.replace(/^Bearer /, '') ?? '')) return void res.status(401).json({ message: 'Bad credentials' });
    res.json({ id: 583231, login: 'octocat', name: 'The Octocat' });
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    denyNext: () => void (deny = true),
    tokenRequests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let server: Server;
let origin: string;
let idpA: RunningIdp;
let idpB: RunningIdp;
let gh: OAuthProvider;
let bff: TestBff;

beforeAll(async () => {
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  [idpA, idpB, gh] = await Promise.all([startTestIdp(origin), startTestIdp(origin, { callbackPath: '/auth/oidc/callback/b' }), startOAuthProvider()]);
  const oidcProvider = (idp: RunningIdp, callback: string) => ({
    issuer: idp.issuer,
    clientId: IDP_CLIENT_ID,
    clientAuth: { method: 'client_secret_basic', secret: IDP_CLIENT_SECRET },
    redirectUri: `${origin}${callback}`,
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    dangerouslyAllowInsecureIdpRequests: true,
  });
  const oidc: OidcOptions = {
    providers: {
      a: oidcProvider(idpA, '/auth/oidc/callback') as OidcOptions['providers'][string],
      b: oidcProvider(idpB, '/auth/oidc/callback/b') as OidcOptions['providers'][string],
      gh: {
        type: 'oauth',
        authorizationEndpoint: `${gh.origin}/login/oauth/authorize`,
        tokenEndpoint: `${gh.origin}/login/oauth/access_token`,
        userinfoEndpoint: `${gh.origin}/user`,
        clientId: GH_CLIENT_ID,
        clientAuth: { method: 'client_secret_post', secret: GH_SECRET },
        scopes: ['read:user'],
        redirectUri: `${origin}/auth/oidc/callback/gh`,
        userinfo: (profile) => ({ id: `github|${String(profile.id)}`, name: String(profile.name ?? profile.login) }),
        dangerouslyAllowInsecureIdpRequests: true,
      },
    },
    defaultProvider: 'a',
  };
  bff = await startTestBff({ dangerouslyAllowInsecureHttp: true, oidc }, new MemoryStore({ warnInProduction: false }));
  server.on('request', bff.app);
});

afterAll(async () => {
  await new Promise<void>((resolve) => {
    server?.close(() => resolve());
    server?.closeAllConnections();
  });
  await Promise.all([idpA?.stop(), idpB?.stop(), gh?.close()]);
  await bff?.close();
});

const sessionsOf = (userId: string) => bff.store.listUserSessions(userId, Date.now());
const refresh = (browser: HttpDevice) => browser.request(`${origin}/auth/refresh`, { method: 'POST', headers: CSRF });
const loginUrl = (query: Record<string, string>) => `${origin}/auth/oidc/login?${new URLSearchParams(query)}`;

/** GET /auth/oidc/login as a navigation from the application's page; the provider's authorization URL. */
async function start(browser: HttpDevice, query: Record<string, string>): Promise<URL> {
  const res = await browser.request(loginUrl({ returnTo: '/app', ...query }), { from: `${origin}/` });
  if (res.status !== 303) throw new Error(`login answered ${res.status} ${await res.text()}`);
  return new URL(res.headers.get('location')!);
}

/** Through one of the oidc-provider IdPs: the callback's answer. */
async function signInAt(browser: HttpDevice, query: Record<string, string>, username = 'alice'): Promise<Response> {
  const authorization = await start(browser, query);
  const password = IDP_ACCOUNTS.find((a) => a.username === username)!.password;
  return returnFromIdp(browser, await authorizeAtIdp(browser, authorization.href, username, password));
}

/** Through the OAuth provider (it approves at once): the redirect back to the BFF, not yet followed. */
async function authorizeAtGitHub(browser: HttpDevice, query: Record<string, string> = {}): Promise<URL> {
  const authorization = await start(browser, { provider: 'gh', ...query });
  const back = await browser.request(authorization.href, { from: `${origin}/` });
  return new URL(back.headers.get('location')!);
}

async function liveSession(browser: HttpDevice): Promise<{ sid: string; userId: string }> {
  const res = await refresh(browser);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { user: { id: string }; session: { id: string } };
  return { sid: body.session.id, userId: body.user.id };
}

describe('several identity providers', () => {
  it('signs in through each: the default without ?provider=, the others by name, each on its own callback path', async () => {
    const viaA = new HttpDevice();
    const authorizationA = await start(viaA, {});
    expect(authorizationA.origin).toBe(new URL(idpA.issuer).origin);
    expect(authorizationA.searchParams.get('redirect_uri')).toBe(`${origin}/auth/oidc/callback`);
    const answerA = await returnFromIdp(viaA, await authorizeAtIdp(viaA, authorizationA.href, 'alice', 'wonderland'));
    expect(answerA.status).toBe(303);
    expect(answerA.headers.get('location')).toBe('/app');
    expect(await liveSession(viaA)).toMatchObject({ userId: `${idpA.issuer}|idp-alice` });

    const viaB = new HttpDevice();
    const answerB = await signInAt(viaB, { provider: 'b' });
    expect(answerB.status).toBe(303);
    const b = await liveSession(viaB);
    // The same account name at another issuer is another user (sub is unique per issuer only).
    expect(b.userId).toBe(`${idpB.issuer}|idp-alice`);
    const [recordB] = await sessionsOf(b.userId);
    expect(recordB!.idp).toMatchObject({ iss: idpB.issuer, sub: 'idp-alice' });
  });

  it('an unknown provider, or one given twice, is 400 invalid_request and starts nothing', async () => {
    const browser = new HttpDevice();
    for (const url of [loginUrl({ provider: 'nope' }), `${loginUrl({ provider: 'a' })}&provider=b`]) {
      const res = await browser.request(url, { from: `${origin}/` });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
      expect(browser.cookieAt(origin, 'latchkey-oidc')).toBeUndefined();
    }
  });

  it("a callback on another provider's path is refused before any token request (mix-up defence)", async () => {
    const browser = new HttpDevice();
    const authorization = await start(browser, { provider: 'b' });
    const callback = await authorizeAtIdp(browser, authorization.href, 'bob', 'builder');
    expect(callback.pathname).toBe('/auth/oidc/callback/b');
    const elsewhere = new URL(callback);
    elsewhere.pathname = '/auth/oidc/callback/gh';
    const res = await returnFromIdp(browser, elsewhere);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'oidc_login_failed', message: expect.stringMatching(/another identity provider/) });
    expect(await sessionsOf(`${idpB.issuer}|idp-bob`)).toEqual([]);
  });

  describe('a plain OAuth 2.0 provider (no OIDC)', () => {
    it('signs in with PKCE S256 and state, client_secret_post, the userinfo mapper naming the user; no IdP link', async () => {
      const browser = new HttpDevice();
      const authorization = await start(browser, { provider: 'gh' });
      expect(Object.fromEntries(authorization.searchParams)).toEqual({
        client_id: GH_CLIENT_ID,
        redirect_uri: `${origin}/auth/oidc/callback/gh`,
        response_type: 'code',
        scope: 'read:user',
        code_challenge_method: 'S256',
        code_challenge: expect.stringMatching(/^[\w-]{43}$/),
        state: expect.stringMatching(/^[\w-]{20,}$/),
      });
      const back = await browser.request(authorization.href, { from: `${origin}/` });
      const before = gh.tokenRequests.length;
      const answer = await returnFromIdp(browser, back.headers.get('location')!);
      expect(answer.status).toBe(303);
      expect(gh.tokenRequests.slice(before)).toEqual([{ clientAuth: 'post', pkce: 'ok' }]);
      const session = await liveSession(browser);
      expect(session.userId).toBe('github|583231');
      const [record] = await sessionsOf('github|583231');
      expect(record).toMatchObject({ userName: 'The Octocat' });
      expect(record!.idp).toBeUndefined();
    });

    it('a callback whose state was altered fails and asks the token endpoint nothing', async () => {
      const browser = new HttpDevice();
      const back = await authorizeAtGitHub(browser);
      back.searchParams.set('state', 'forged-state-value-0123456789');
      const before = gh.tokenRequests.length;
      const res = await returnFromIdp(browser, back);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'oidc_login_failed' });
      expect(gh.tokenRequests.length).toBe(before);
    });
  });

  describe('back-channel logout, per provider (the logout token’s iss picks the provider)', () => {
    /** A logout token signed with `signer`'s key, claiming `claims`. */
    async function logoutToken(signer: RunningIdp, claims: Record<string, unknown>): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        iss: signer.issuer,
        aud: IDP_CLIENT_ID,
        iat: now,
        jti: randomUUID(),
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        ...claims,
      };
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'RS256', kid: signer.signingJwk.kid as string, typ: 'logout+jwt' })
        .sign(await importJWK(signer.signingJwk as never, 'RS256'));
    }
    const post = (token: string) =>
      fetch(`${origin}/auth/oidc/backchannel-logout`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
      });

    it("provider A's logout token cannot end a session of provider B, whatever it names; B's own ends it", async () => {
      const atA = new HttpDevice();
      await signInAt(atA, {});
      const atB = new HttpDevice();
      await signInAt(atB, { provider: 'b' });
      const a = await liveSession(atA);
      const b = await liveSession(atB);
      const [recordB] = (await sessionsOf(b.userId)).filter((s) => s.sid === b.sid);
      const sidAtB = recordB!.idp!.sid!;

      // A's token (A's key, A's iss) naming B's IdP session and B's user: accepted (it is A's to send), ends nothing of B's.
      expect(await post(await logoutToken(idpA, { sid: sidAtB })).then((r) => r.status)).toBe(200);
      expect(await post(await logoutToken(idpA, { sub: 'idp-alice' })).then((r) => r.status)).toBe(200);
      expect((await refresh(atB)).status).toBe(200);
      // ...though A's sub-only token did end A's own alice.
      expect((await refresh(atA)).status).toBe(401);

      // Signed by A's key but claiming B's issuer: B's keys must have signed it. 400, nothing ends.
      const forged = await post(await logoutToken(idpA, { iss: idpB.issuer, sid: sidAtB }));
      expect(forged.status).toBe(400);
      expect(await forged.json()).toMatchObject({ error: 'invalid_request', error_description: 'The logout token is invalid.' });
      // An issuer no provider has: 400.
      const stranger = await post(await logoutToken(idpA, { iss: 'https://stranger.example', sid: sidAtB }));
      expect(stranger.status).toBe(400);
      expect((await refresh(atB)).status).toBe(200);

      // B itself (oidc-provider's own back-channel logout, signed with B's key) ends it.
      const client = await idpB.provider.Client.find(IDP_CLIENT_ID);
      await (client as unknown as { backchannelLogout(sub: string, sid: string): Promise<void> }).backchannelLogout('idp-alice', sidAtB);
      expect((await refresh(atB)).status).toBe(401);
      expect(a.userId).not.toBe(b.userId);
    });
  });

  describe('oidc.errorRedirect: a cancelled sign-in', () => {
    it('a browser navigation goes back to returnTo with ?auth_error=access_denied (303); JSON callers keep the 400', async () => {
      const browser = new HttpDevice();
      gh.denyNext();
      const authorization = await start(browser, { provider: 'gh', returnTo: '/app?tab=2#top' });
      const back = await browser.request(authorization.href, { from: `${origin}/` });
      const callback = new URL(back.headers.get('location')!);
      expect(callback.searchParams.get('error')).toBe('access_denied');
      const res = await browser.request(callback.href, { from: gh.origin + '/', headers: { Accept: BROWSER_ACCEPT } });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/app?tab=2&auth_error=access_denied#top');
      expect(res.headers.get('cache-control')).toBe('no-store');
      // The transaction is gone with it: the same answer again finds none.
      const again = await browser.request(callback.href, { from: gh.origin + '/', headers: { Accept: 'application/json' } });
      expect(again.status).toBe(400);
      expect(await again.json()).toMatchObject({ error: 'oidc_login_failed' });
    });

    it('at an OpenID provider too; a failure other than a cancel says oidc_login_failed; no transaction goes to /', async () => {
      const browser = new HttpDevice();
      const authorization = await start(browser, { provider: 'b' });
      const cancelled = new URL(`${origin}/auth/oidc/callback/b`);
      cancelled.search = new URLSearchParams({ error: 'access_denied', state: authorization.searchParams.get('state')!, iss: idpB.issuer }).toString();
      const res = await browser.request(cancelled.href, { from: `${idpB.issuer}/`, headers: { Accept: BROWSER_ACCEPT } });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/app?auth_error=access_denied');

      const wrongState = await start(browser, { provider: 'b' });
      const tampered = await authorizeAtIdp(browser, wrongState.href, 'alice', 'wonderland');
      tampered.searchParams.set('state', 'x'.repeat(43));
      const failed = await browser.request(tampered.href, { from: `${idpB.issuer}/`, headers: { Accept: BROWSER_ACCEPT } });
      expect(failed.headers.get('location')).toBe('/app?auth_error=oidc_login_failed');

      const none = await new HttpDevice().request(`${origin}/auth/oidc/callback?code=x&state=y`, { headers: { Accept: BROWSER_ACCEPT } });
      expect(none.status).toBe(303);
      expect(none.headers.get('location')).toBe('/?auth_error=oidc_login_failed');
    });
  });

  describe('the device name typed on the page', () => {
    it('is carried through the login transaction into the device list', async () => {
      const browser = new HttpDevice();
      const back = await authorizeAtGitHub(browser, { deviceName: '  Work laptop\u200b ' });
      expect((await returnFromIdp(browser, back)).status).toBe(303);
      const refreshed = await refresh(browser);
      const { accessToken } = (await refreshed.json()) as { accessToken: string };
      const list = await browser.request(`${origin}/auth/sessions`, { headers: { ...CSRF, Authorization: `Bearer ${accessToken}` } });
      const { sessions } = (await list.json()) as { sessions: Array<{ deviceName: string; current: boolean }> };
      expect(sessions.find((s) => s.current)).toMatchObject({ deviceName: 'Work laptop' });
    });

    it('is validated like the password login’s: too long or repeated is 400 invalid_request, nothing started', async () => {
      const browser = new HttpDevice();
      for (const url of [loginUrl({ provider: 'gh', deviceName: 'x'.repeat(101) }), `${loginUrl({ provider: 'gh', deviceName: 'a' })}&deviceName=b`]) {
        const res = await browser.request(url, { from: `${origin}/` });
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ error: 'invalid_request' });
      }
      expect(browser.cookieAt(origin, 'latchkey-oidc')).toBeUndefined();
    });
  });
});
