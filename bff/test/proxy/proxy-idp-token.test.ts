/**
 * `bff.proxy({ token: 'idp' })` against a real node-oidc-provider (the bundled development IdP, never a mock) and a real
 * upstream API that checks each token at the IdP's UserInfo endpoint, on the memory store and on a real redis-server:
 * the IdP access token attached upstream and never sent to the browser; one renewal at the IdP under 50 concurrent
 * calls, and across two BFF instances on one Redis; invalid_grant ends the device session; an unreachable IdP never
 * signs anyone out; a password session is refused; a token function's failure is a 502 that leaks nothing.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { HttpDevice, startRedisServer, type RedisServer } from '@latchkey/testkit';
import type { OidcProviderOptions, ProxyOptions } from '../../src/index.js';
import { unsealWithAny } from '../../src/crypto/seal.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { DeviceSessionRecord, SessionStore } from '../../src/store/types.js';
import { login, SECRET, startTestBff, type TestBff } from '../helpers/harness.js';
import { IDP_CLIENT_ID, IDP_CLIENT_SECRET, signIn, startOidcStack, TEST_PROVIDER, type OidcStack } from '../helpers/oidc.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const CSRF = { 'X-CSRF': '1' };

/**
 * The upstream API: `/v1/profile` accepts only live IdP access tokens (it asks the IdP's UserInfo endpoint, as an API
 * without a JWT verifier would introspect), `/v1/plain` answers without calling the IdP. It records every token it got.
 */
interface Upstream {
  url: string;
  tokens: string[];
  close(): Promise<void>;
}

async function startUpstream(issuer: string): Promise<Upstream> {
  const tokens: string[] = [];
  const app = express();
  app.use((req, _res, next) => {
    const token = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    if (token) tokens.push(token);
    next();
  });
  app.get('/v1/profile', async (req, res) => {
    const answer = await fetch(`${issuer}/me`, { headers: { Authorization: req.get('authorization') ?? '' } });
    if (!answer.ok) return void res.status(401).json({ error: 'invalid_token', message: `the IdP said ${answer.status}` });
    const { sub } = (await answer.json()) as { sub: string };
    res.json({ sub, via: 'idp-token' });
  });
  app.get('/v1/plain', (req, res) => void res.json({ bearer: req.get('authorization') !== undefined }));
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tokens,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Refresh-token grants the IdP answered (successes and refusals): its token endpoint's renewals. */
function countRenewals(stack: OidcStack): { ok: number; refused: number } {
  const count = { ok: 0, refused: 0 };
  stack.idp.provider.on('grant.success', (ctx) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') count.ok++;
  });
  stack.idp.provider.on('grant.error', (ctx) => {
    if (ctx.oidc.params?.grant_type === 'refresh_token') count.refused++;
  });
  return count;
}

/** Sets the session's IdP token expiry in the store (the same sealed tokens), as time passing would. */
async function expireIdpToken(store: SessionStore, session: DeviceSessionRecord, accessExpiresAt: number): Promise<void> {
  const { refreshTokenSealed, idTokenSealed, accessTokenSealed } = session.idp!;
  expect(await store.updateIdpTokens(session.key, { refreshTokenSealed, idTokenSealed, accessTokenSealed, accessExpiresAt }, Date.now())).toBe(true);
}

/** Every string a browser could read of an answer: status line, headers, body. */
async function visible(res: Response): Promise<string> {
  return `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${await res.text()}`;
}

const stores: Array<[string, (prefix: string) => Promise<SessionStore>]> = [
  ['memory', async () => new MemoryStore({ warnInProduction: false })],
  ['Redis', async (prefix) => RedisStore.connect({ url: redis.url, prefix })],
];

describe.each(stores)("bff.proxy({ token: 'idp' }) on the %s store", (_name, openStore) => {
  let stack: OidcStack;
  let upstream: Upstream;
  const closers: Array<() => Promise<unknown>> = [];

  async function start(oidc: Partial<OidcProviderOptions> = {}, proxy: Partial<ProxyOptions> = {}): Promise<void> {
    stack = await startOidcStack(await openStore(`lkidp:${randomUUID()}:`), oidc);
    upstream = await startUpstream(stack.idp.issuer);
    stack.bff.app.use('/p', stack.bff.bff.proxy({ target: `${upstream.url}/v1`, token: 'idp', ...proxy } as ProxyOptions));
  }
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await upstream?.close();
    await stack?.close();
  });

  const proxied = (browser: HttpDevice, path: string) => browser.request(`${stack.origin}/p${path}`, { headers: CSRF });
  const sessionOf = async (): Promise<DeviceSessionRecord | undefined> =>
    (await stack.bff.store.listUserSessions(`${stack.idp.issuer}|idp-alice`, Date.now()))[0];
  const idpAccessTokenOf = (session: DeviceSessionRecord) => unsealWithAny(session.idp!.accessTokenSealed!, [SECRET], 'latchkey idp access_token v1')!;

  it('attaches the IdP access token from sign-in, which the upstream verifies at the IdP; no renewal while it is not due; the browser never sees it', async () => {
    await start();
    const renewals = countRenewals(stack);
    const browser = new HttpDevice();
    await signIn(browser, stack.origin);
    const session = (await sessionOf())!;
    const idpToken = idpAccessTokenOf(session);
    expect(idpToken.length).toBeGreaterThan(20);

    const res = await proxied(browser, '/profile');
    expect(res.status).toBe(200);
    const seen = await visible(res);
    expect(JSON.parse(seen.slice(seen.lastIndexOf('\n') + 1))).toEqual({ sub: 'idp-alice', via: 'idp-token' });
    expect(upstream.tokens).toEqual([idpToken]);
    expect(seen).not.toContain(idpToken);
    expect(seen).not.toContain('eyJ');
    expect((await proxied(browser, '/profile')).status).toBe(200);
    expect(renewals).toEqual({ ok: 0, refused: 0 });
    // Nor does any log line carry it.
    expect(stack.bff.logLines.join('\n')).not.toContain(idpToken);
  });

  it('50 concurrent proxied calls when the IdP token has expired: exactly 1 renewal at the IdP, every call waits for and gets the renewed token', async () => {
    await start();
    const browser = new HttpDevice();
    await signIn(browser, stack.origin);
    const session = (await sessionOf())!;
    const signInToken = idpAccessTokenOf(session);
    await expireIdpToken(stack.bff.store, session, Date.now() - 1000);
    const renewals = countRenewals(stack);

    const answers = await Promise.all(Array.from({ length: 50 }, () => proxied(browser, '/profile')));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(renewals).toEqual({ ok: 1, refused: 0 });
    const renewed = idpAccessTokenOf((await sessionOf())!);
    expect(renewed).not.toBe(signInToken);
    expect(new Set(upstream.tokens)).toEqual(new Set([renewed]));
    for (const answer of answers) expect(await visible(answer)).not.toContain(renewed);
    // Renewed for an hour: the next calls renew nothing.
    expect((await proxied(browser, '/profile')).status).toBe(200);
    expect(renewals).toEqual({ ok: 1, refused: 0 });
  });

  it('50 concurrent proxied calls when the IdP token is due but still valid: exactly 1 renewal; no call fails or waits on a dead token', async () => {
    await start();
    const browser = new HttpDevice();
    await signIn(browser, stack.origin);
    const session = (await sessionOf())!;
    const signInToken = idpAccessTokenOf(session);
    // Within the renewal margin (30 s by default), not yet expired.
    await expireIdpToken(stack.bff.store, session, Date.now() + 10_000);
    const renewals = countRenewals(stack);

    const answers = await Promise.all(Array.from({ length: 50 }, () => proxied(browser, '/profile')));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(renewals).toEqual({ ok: 1, refused: 0 });
    const renewed = idpAccessTokenOf((await sessionOf())!);
    for (const token of upstream.tokens) expect([signInToken, renewed]).toContain(token);
  });

  it('invalid_grant at the IdP ends the device session: 401 session_revoked (marked), revocation event, logged, counted; the upstream is not called', async () => {
    await start({ refreshMarginSeconds: 3600 });
    const browser = new HttpDevice();
    await signIn(browser, stack.origin);
    const session = (await sessionOf())!;
    const refreshToken = unsealWithAny(session.idp!.refreshTokenSealed!, [SECRET], 'latchkey idp refresh_token v1')!;
    const revoked = await fetch(`${stack.idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${IDP_CLIENT_ID}:${IDP_CLIENT_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' }),
    });
    expect(revoked.status).toBe(200);
    const renewals = countRenewals(stack);
    const ended = vi.fn();
    stack.bff.bff.guard.onLogEvent((event) => {
      if (event.kind === 'sid' && event.id === session.sid) ended();
    });

    const answers = await Promise.all(Array.from({ length: 5 }, () => proxied(browser, '/profile')));
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.headers.get('x-latchkey-session')).toBe('session_revoked');
      expect(await res.json()).toEqual({ error: 'session_revoked', message: expect.any(String) });
    }
    expect(renewals).toEqual({ ok: 0, refused: 1 });
    expect(await sessionOf()).toBeUndefined();
    expect(upstream.tokens).toEqual([]);
    await vi.waitFor(() => expect(ended).toHaveBeenCalled(), { timeout: 5000, interval: 50 });
    const logged = stack.bff.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'oidc_grant_revoked');
    expect(logged).toEqual([expect.objectContaining({ sid: session.sid, route: 'proxy' })]);
    expect(await stack.bff.bff.metrics.registry.getSingleMetricAsString('latchkey_proxy_requests_total')).toMatch(/outcome="session_ended"} 5/);
    // The session's cookie is dead everywhere: the next call is a plain 401 too.
    expect((await proxied(browser, '/profile')).status).toBe(401);
  });

  it('the IdP unreachable: the still-valid token is used; once it has expired, 503 temporarily_unavailable with Retry-After; nobody is signed out', async () => {
    await start({ refreshMarginSeconds: 3600 });
    const browser = new HttpDevice();
    await signIn(browser, stack.origin);
    const session = (await sessionOf())!;
    const signInToken = idpAccessTokenOf(session);
    await stack.idp.stop();

    const stillValid = await proxied(browser, '/plain');
    expect(stillValid.status).toBe(200);
    expect(upstream.tokens).toEqual([signInToken]);

    // The IdP token expires (as the store would hold it an hour later); the IdP is still down.
    await expireIdpToken(stack.bff.store, session, Date.now() - 1000);
    const down = await proxied(browser, '/plain');
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(down.headers.get('x-latchkey-session')).toBeNull();
    expect(await down.json()).toEqual({ error: 'temporarily_unavailable', message: expect.stringMatching(/identity provider/) });
    expect(upstream.tokens).toHaveLength(1);
    expect((await sessionOf())?.sid).toBe(session.sid);
    expect(await stack.bff.bff.metrics.registry.getSingleMetricAsString('latchkey_proxy_requests_total')).toMatch(/outcome="idp_unavailable"} 1/);

    await stack.idp.start();
    const back = await proxied(browser, '/profile');
    expect(back.status).toBe(200);
    expect(upstream.tokens.at(-1)).not.toBe(signInToken);
    expect((await sessionOf())?.sid).toBe(session.sid);
  });

  it('a password session (not started at the IdP): 403 insufficient_scope, nothing forwarded, nobody signed out', async () => {
    await start();
    const device = await login(stack.bff.app);
    const res = await fetch(`${stack.origin}/p/plain`, { headers: { ...CSRF, Cookie: device.cookie } });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'insufficient_scope', message: expect.stringMatching(/identity provider/) });
    expect(upstream.tokens).toEqual([]);
    expect(await stack.bff.store.getSession((await stack.bff.store.listUserSessions('user-alice', Date.now()))[0]!.key, Date.now())).not.toBeNull();
  });

  it('a token function that fails (an exchange of the IdP token): 502 upstream_unavailable; neither the token nor the error reaches the browser', async () => {
    await start();
    const browser = new HttpDevice();
    await signIn(browser, stack.origin);
    const idpToken = idpAccessTokenOf((await sessionOf())!);
    stack.bff.app.use(
      '/exchange',
      stack.bff.bff.proxy({
        target: `${upstream.url}/v1`,
        token: async () => {
          // What a failed RFC 8693 exchange's error could carry: the subject token and the IdP's answer.
          throw new Error(`token exchange refused for subject_token=${idpToken}: invalid_target`);
        },
      }),
    );
    const res = await browser.request(`${stack.origin}/exchange/plain`, { headers: CSRF });
    expect(res.status).toBe(502);
    const seen = await visible(res);
    expect(seen).toContain('"error":"upstream_unavailable"');
    expect(seen).not.toContain(idpToken);
    expect(seen).not.toContain('invalid_target');
    expect(upstream.tokens).toEqual([]);
  });
});

describe("bff.proxy({ token: 'idp' }): two BFF instances on one Redis", () => {
  /** Two BFFs on one Redis prefix (one IdP, one upstream), alice signed in on the first; `run` gets both origins and her cookie. */
  async function withTwoInstances(run: (ctx: { stack: OidcStack; upstream: Upstream; origins: [string, string]; cookie: string }) => Promise<void>) {
    const prefix = `lkidp2:${randomUUID()}:`;
    const stack = await startOidcStack(await RedisStore.connect({ url: redis.url, prefix }));
    const upstream = await startUpstream(stack.idp.issuer);
    let second: TestBff | undefined;
    const server: Server = createServer();
    try {
      second = await startTestBff(
        {
          dangerouslyAllowInsecureHttp: true,
          oidc: {
            providers: {
              [TEST_PROVIDER]: {
                issuer: stack.idp.issuer,
                clientId: IDP_CLIENT_ID,
                clientAuth: { method: 'client_secret_basic', secret: IDP_CLIENT_SECRET },
                redirectUri: `${stack.origin}/auth/oidc/callback`,
                scopes: ['openid', 'profile', 'email', 'offline_access'],
                dangerouslyAllowInsecureIdpRequests: true,
              },
            },
          },
        },
        await RedisStore.connect({ url: redis.url, prefix }),
      );
      for (const bff of [stack.bff, second]) bff.app.use('/p', bff.bff.proxy({ target: `${upstream.url}/v1`, token: 'idp' }));
      server.on('request', second.app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const browser = new HttpDevice();
      await signIn(browser, stack.origin);
      const cookie = `latchkey=${browser.cookieAt(stack.origin, 'latchkey')!}`;
      await run({ stack, upstream, origins: [stack.origin, `http://127.0.0.1:${(server.address() as AddressInfo).port}`], cookie });
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await second?.close();
      await upstream.close();
      await stack.close();
    }
  }

  const sessionIn = async (stack: OidcStack) => (await stack.bff.store.listUserSessions(`${stack.idp.issuer}|idp-alice`, Date.now()))[0]!;

  for (const [state, expiresIn] of [
    ['expired', -1000],
    ['due but still valid', 10_000],
  ] as const) {
    it(`concurrent calls on both instances while the IdP token is ${state}: exactly 1 renewal at the IdP`, async () => {
      await withTwoInstances(async ({ stack, upstream, origins, cookie }) => {
        const session = await sessionIn(stack);
        const signInToken = unsealWithAny(session.idp!.accessTokenSealed!, [SECRET], 'latchkey idp access_token v1')!;
        await expireIdpToken(stack.bff.store, session, Date.now() + expiresIn);
        const renewals = countRenewals(stack);
        const call = (origin: string) => fetch(`${origin}/p/profile`, { headers: { ...CSRF, Cookie: cookie } });

        const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => call(origins[i % 2]!)));
        expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
        expect(renewals).toEqual({ ok: 1, refused: 0 });
        const renewed = unsealWithAny((await sessionIn(stack)).idp!.accessTokenSealed!, [SECRET], 'latchkey idp access_token v1')!;
        // An expired token is never sent: every call waited for the renewed one (on the other instance, by reading the store).
        if (expiresIn < 0) expect(new Set(upstream.tokens)).toEqual(new Set([renewed]));
        else for (const token of upstream.tokens) expect([signInToken, renewed]).toContain(token);
      });
    });
  }
});

describe("bff.proxy({ token: 'idp' }) options", () => {
  it('is refused without the oidc option (a clear TypeError at mount time)', async () => {
    const t = await startTestBff();
    try {
      expect(() => t.bff.proxy({ target: 'http://127.0.0.1:1/v1', token: 'idp' })).toThrow(/token 'idp' needs the BFF's oidc option/);
    } finally {
      await t.close();
    }
  });
});
