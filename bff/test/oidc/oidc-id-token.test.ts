/**
 * The ID token's signature and the IdP's key set, against a real node-oidc-provider (never a mock) that the test
 * controls through its own middleware (`provider.use`): an ID token re-signed with a key outside the IdP's JWKS signs
 * nobody in; a key rotation at the IdP (a new provider with a new key on the same issuer) works after one JWKS fetch;
 * the JWKS is cached on the BFF's clock, and an unknown kid in a logout token refetches it at most once per cooldown.
 */
import { randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, importJWK, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { unsealWithAny } from '../../src/crypto/seal.js';
import { JWKS_MAX_AGE_MS, JWKS_REFETCH_COOLDOWN_MS } from '../../src/oidc/idp-keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import { SECRET } from '../helpers/harness.js';
import { HttpDevice } from '@latchkey/testkit';
import { IDP_CLIENT_ID, signIn, startOidcStack, startTestIdp, type OidcStack, type RunningIdp } from '../helpers/oidc.js';
import { TestClock } from '../helpers/test-clock.js';

const CSRF = { 'X-CSRF': '1', 'Content-Type': 'application/json' };

type Forge = (idToken: string, grantType: string) => Promise<string>;

/** Counts the IdP's JWKS requests, and lets a test replace the ID token in the IdP's token answers. */
function instrument(idp: RunningIdp): { jwksFetches: () => number; forge: (f: Forge | null) => void } {
  let jwks = 0;
  let forge: Forge | null = null;
  idp.provider.use(async (ctx, next) => {
    if (ctx.path === '/jwks') jwks++;
    await next();
    const body = ctx.body as { id_token?: unknown } | undefined;
    if (forge && ctx.oidc?.route === 'token' && typeof body?.id_token === 'string') {
      body.id_token = await forge(body.id_token, String(ctx.oidc.params?.grant_type));
    }
  });
  return { jwksFetches: () => jwks, forge: (f) => (forge = f) };
}

/** The same header and claims (nonce, sid, ...), signed with `key` under `kid`. */
async function resign(idToken: string, key: CryptoKey, kid: string): Promise<string> {
  return new SignJWT(decodeJwt(idToken)).setProtectedHeader({ ...decodeProtectedHeader(idToken), alg: 'RS256', kid }).sign(key);
}

describe('the ID token signature', () => {
  let stack: OidcStack;
  let idp: ReturnType<typeof instrument>;
  let attackerKey: CryptoKey;
  const extraIdps: RunningIdp[] = [];

  const start = async (clock?: TestClock, oidc = {}) => {
    stack = await startOidcStack(new MemoryStore({ warnInProduction: false, ...(clock ? { clock } : {}) }), oidc, clock ? { clock } : {});
    idp = instrument(stack.idp);
    attackerKey = (await generateKeyPair('RS256')).privateKey;
  };
  afterEach(async () => {
    for (const extra of extraIdps.splice(0)) await extra.stop();
    await stack?.close();
  });
  const sessionsOf = (username: string) => stack.bff.store.listUserSessions(`${stack.idp.issuer}|idp-${username}`, Date.now());

  async function expectRefused(res: Response, browser: HttpDevice) {
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'oidc_login_failed', message: 'The identity provider’s ID token is not signed by one of its keys.' });
    expect(res.headers.get('location')).toBeNull();
    expect(browser.cookieAt(stack.origin, 'latchkey')).toBeUndefined();
    expect(await sessionsOf('alice')).toEqual([]);
    expect(stack.bff.logLines.some((line) => line.includes('"reason":"id_token signature"'))).toBe(true);
  }

  it('an ID token signed with another key under the IdP’s kid signs nobody in', async () => {
    await start();
    idp.forge((token) => resign(token, attackerKey, String(stack.idp.signingJwk.kid)));
    const browser = new HttpDevice();
    await expectRefused(await signIn(browser, stack.origin), browser);
    expect(await stack.bff.bff.metrics.registry.metrics()).toMatch(/latchkey_logins_total\{outcome="oidc_login_failed"\} 1/);
  });

  it('an ID token under a kid the IdP does not publish: refused after one JWKS refetch', async () => {
    await start();
    expect((await signIn(new HttpDevice(), stack.origin, 'bob')).status).toBe(303);
    expect(idp.jwksFetches()).toBe(1);
    idp.forge((token) => resign(token, attackerKey, 'attacker-kid'));
    const browser = new HttpDevice();
    await expectRefused(await signIn(browser, stack.origin), browser);
    // The copy lacked the kid: fetched once more, still not there, refused.
    expect(idp.jwksFetches()).toBe(2);
  });

  it('a key rotation at the IdP: the next sign-in works after one JWKS fetch, and the new copy is cached', async () => {
    await start();
    expect((await signIn(new HttpDevice(), stack.origin, 'alice')).status).toBe(303);
    expect((await signIn(new HttpDevice(), stack.origin, 'bob')).status).toBe(303);
    expect(idp.jwksFetches()).toBe(1);

    // The same issuer, a new provider with a new signing key (the old one is gone from its JWKS).
    await stack.idp.stop();
    const rotated = await startTestIdp(stack.origin, { port: stack.idp.port });
    extraIdps.push(rotated);
    expect(rotated.signingJwk.kid).not.toBe(stack.idp.signingJwk.kid);
    const afterRotation = instrument(rotated);

    const browser = new HttpDevice();
    const res = await signIn(browser, stack.origin, 'alice');
    expect(res.status).toBe(303);
    expect(afterRotation.jwksFetches()).toBe(1);
    const idToken = unsealWithAny((await sessionsOf('alice')).at(-1)!.idp!.idTokenSealed!, [SECRET], 'latchkey idp id_token v1')!;
    expect(decodeProtectedHeader(idToken).kid).toBe(rotated.signingJwk.kid);
    expect((await signIn(new HttpDevice(), stack.origin, 'bob')).status).toBe(303);
    expect(afterRotation.jwksFetches()).toBe(1);
  });

  it('the JWKS copy ages on the BFF’s clock: fetched again after its maximum age', async () => {
    const clock = new TestClock();
    await start(clock);
    expect((await signIn(new HttpDevice(), stack.origin, 'alice')).status).toBe(303);
    clock.advance(JWKS_MAX_AGE_MS - 1000);
    expect((await signIn(new HttpDevice(), stack.origin, 'bob')).status).toBe(303);
    expect(idp.jwksFetches()).toBe(1);
    clock.advance(1000);
    expect((await signIn(new HttpDevice(), stack.origin, 'bob')).status).toBe(303);
    expect(idp.jwksFetches()).toBe(2);
  });

  it('a renewed ID token that does not verify is not stored; the renewal itself (rotated refresh token) is', async () => {
    // A margin longer than the IdP's token lifetime: every refresh renews at the IdP.
    await start(undefined, { refreshMarginSeconds: 3600 });
    const browser = new HttpDevice();
    await signIn(browser, stack.origin);
    const refresh = () => browser.request(`${stack.origin}/auth/refresh`, { method: 'POST', headers: CSRF });
    const genuine = await sessionsOf('alice');
    expect((await refresh()).status).toBe(200);
    const renewed = (await sessionsOf('alice'))[0]!.idp!;
    // The IdP does send a new ID token on refresh: a genuine one replaces the stored hint.
    expect(renewed.idTokenSealed).not.toBe(genuine[0]!.idp!.idTokenSealed);

    idp.forge((token, grantType) => (grantType === 'refresh_token' ? resign(token, attackerKey, String(stack.idp.signingJwk.kid)) : Promise.resolve(token)));
    expect((await refresh()).status).toBe(200);
    const after = (await sessionsOf('alice'))[0]!.idp!;
    expect(after.idTokenSealed).toBe(renewed.idTokenSealed);
    expect(after.refreshTokenSealed).not.toBe(renewed.refreshTokenSealed);
    expect(stack.bff.logLines.some((line) => line.includes('"event":"oidc_refresh_id_token_refused"'))).toBe(true);
  });

  describe('logout tokens share the key set: an unknown kid refetches at most once per cooldown', () => {
    const logoutToken = async (key: CryptoKey, kid: string) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: stack.idp.issuer,
        aud: IDP_CLIENT_ID,
        iat: now,
        jti: randomUUID(),
        sub: 'idp-alice',
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'logout+jwt' })
        .sign(key);
    };
    const post = async (token: string) =>
      (
        await fetch(`${stack.origin}/auth/oidc/backchannel-logout`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ logout_token: token }),
        })
      ).status;

    it('forged kids within the cooldown fetch nothing; after it, one refetch; the IdP’s own token still works', async () => {
      const clock = new TestClock();
      await start(clock);
      expect((await signIn(new HttpDevice(), stack.origin)).status).toBe(303);
      expect(idp.jwksFetches()).toBe(1);

      for (let i = 0; i < 5; i++) expect(await post(await logoutToken(attackerKey, `forged-${i}`))).toBe(400);
      expect(idp.jwksFetches()).toBe(1);
      clock.advance(JWKS_REFETCH_COOLDOWN_MS);
      expect(await post(await logoutToken(attackerKey, 'forged-late'))).toBe(400);
      expect(idp.jwksFetches()).toBe(2);
      expect(await post(await logoutToken(attackerKey, 'forged-again'))).toBe(400);
      expect(idp.jwksFetches()).toBe(2);
      expect(await sessionsOf('alice')).toHaveLength(1);

      const real = (await importJWK(stack.idp.signingJwk as never, 'RS256')) as CryptoKey;
      expect(await post(await logoutToken(real, String(stack.idp.signingJwk.kid)))).toBe(200);
      expect(await sessionsOf('alice')).toEqual([]);
    });
  });
});
