/**
 * ASVS 10.5.3 and 10.5.4, against a real node-oidc-provider (never a mock) that the test bends through its own
 * middleware: a discovery document naming another issuer than the one configured signs nobody in, and an ID token
 * issued for another client (its `aud`), signed with the IdP's own key, signs nobody in.
 */
import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { HttpDevice, startLogin } from '@latchkey/testkit';
import { signIn, startOidcStack, type OidcStack } from '../helpers/oidc.js';

describe('the IdP is the one configured, and its ID tokens are for this client', () => {
  let stack: OidcStack;
  afterEach(async () => stack?.close());
  const sessionsOf = (username: string) => stack.bff.store.listUserSessions(`${stack.idp.issuer}|idp-${username}`, Date.now());

  it('a discovery document naming another issuer: no sign-in starts, nothing is stored', async () => {
    stack = await startOidcStack(new MemoryStore({ warnInProduction: false }));
    let lie = true;
    stack.idp.provider.use(async (ctx, next) => {
      await next();
      if (lie && ctx.path === '/.well-known/openid-configuration') (ctx.body as Record<string, unknown>).issuer = 'https://impostor.example';
    });
    const browser = new HttpDevice();
    const res = await browser.request(`${stack.origin}/auth/oidc/login?returnTo=%2Fapp`, { from: `${stack.origin}/` });
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'temporarily_unavailable', message: expect.any(String) });
    expect(res.headers.get('location')).toBeNull();
    expect(await sessionsOf('alice')).toEqual([]);
    // Once the IdP's document names the configured issuer again, sign-in starts: the bad one was not cached.
    lie = false;
    expect((await startLogin(new HttpDevice(), stack.origin, '/app')).origin).toBe(stack.idp.issuer);
  });

  it('an ID token for another client, signed with the IdP’s own key, signs nobody in', async () => {
    stack = await startOidcStack(new MemoryStore({ warnInProduction: false }));
    const idpKey = await importJWK(stack.idp.signingJwk as Parameters<typeof importJWK>[0], 'RS256');
    stack.idp.provider.use(async (ctx, next) => {
      await next();
      const body = ctx.body as { id_token?: unknown } | undefined;
      if (ctx.oidc?.route === 'token' && typeof body?.id_token === 'string') {
        const token = body.id_token;
        body.id_token = await new SignJWT({ ...decodeJwt(token), aud: 'another-client' })
          .setProtectedHeader({ ...decodeProtectedHeader(token), alg: 'RS256' })
          .sign(idpKey);
      }
    });
    const browser = new HttpDevice();
    const res = await signIn(browser, stack.origin);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'oidc_login_failed', message: 'The identity provider’s answer did not match this sign-in.' });
    // openid-client's `aud` check refused it (not the signature: the IdP's own key signed it).
    expect(stack.bff.logLines.some((line) => line.includes('"reason":"unexpected JWT claim value encountered"'))).toBe(true);
    expect(res.headers.get('location')).toBeNull();
    expect(browser.cookieAt(stack.origin, 'latchkey')).toBeUndefined();
    expect(await sessionsOf('alice')).toEqual([]);
  });
});
