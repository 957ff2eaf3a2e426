/**
 * A back-channel logout token's jti is remembered for as long as the token is accepted (iat + replay window + clock
 * skew), on the BFF's clock, against a real node-oidc-provider's key: no replay gap at the end of the window.
 */
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { HttpDevice } from '@latchkey/testkit';
import { IDP_CLIENT_ID, signIn, startOidcStack, type OidcStack } from '../helpers/oidc.js';
import { TestClock } from '../helpers/test-clock.js';

const WINDOW_SECONDS = 600;
const SKEW_SECONDS = 5;

describe('back-channel logout: jti replay', () => {
  let stack: OidcStack;
  let clock: TestClock;
  afterEach(async () => {
    await stack?.close();
  });

  const logoutToken = async (iat: number, typ: string | null = 'logout+jwt') =>
    new SignJWT({
      iss: stack.idp.issuer,
      aud: IDP_CLIENT_ID,
      iat,
      jti: randomUUID(),
      sub: 'idp-alice',
      events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
    })
      .setProtectedHeader({ alg: 'RS256', kid: String(stack.idp.signingJwk.kid), ...(typ !== null ? { typ } : {}) })
      .sign(await importJWK(stack.idp.signingJwk as never, 'RS256'));
  const post = (token: string) =>
    fetch(`${stack.origin}/auth/oidc/backchannel-logout`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }),
    });
  const aliceSessions = () => stack.bff.store.listUserSessions(`${stack.idp.issuer}|idp-alice`, clock.now());

  it.each([
    ['issued now', 0],
    // The earliest a token can be used: iat up to the skew in the future.
    ['issued up to the skew in the future', SKEW_SECONDS],
  ])('a token %s: its replay is refused until the token itself is too old', async (_label, ahead) => {
    clock = new TestClock(Math.floor(Date.now() / 1000) * 1000);
    stack = await startOidcStack(
      new MemoryStore({ warnInProduction: false, clock }),
      { logoutTokenReplayWindowSeconds: WINDOW_SECONDS },
      { clock, tokens: { clockSkewSeconds: SKEW_SECONDS } },
    );
    const iat = clock.now() / 1000 + ahead;
    const token = await logoutToken(iat);
    expect((await post(token)).status).toBe(200);

    // The last second the token is accepted (jose: floor(now) - iat <= window + skew); a new session to end.
    clock.set((iat + WINDOW_SECONDS + SKEW_SECONDS) * 1000 + 999);
    expect((await signIn(new HttpDevice(), stack.origin)).status).toBe(303);
    const replay = await post(token);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_request', error_description: 'The logout token was already used.' });
    expect(await aliceSessions()).toHaveLength(1);

    // One second later it is refused as too old, whatever the jti store remembers.
    clock.advance(1);
    const late = await post(token);
    expect(late.status).toBe(400);
    expect(await late.json()).toMatchObject({ error_description: 'The logout token is invalid.' });
    expect(await aliceSessions()).toHaveLength(1);
  });

  it.each([
    ['accepted by default', false, 200],
    ['refused with requireLogoutTokenTyp', true, 400],
  ])('a token without typ is %s (OIDC Back-Channel Logout §2.4, ASVS 10.5.5)', async (_label, requireLogoutTokenTyp, status) => {
    clock = new TestClock(Math.floor(Date.now() / 1000) * 1000);
    stack = await startOidcStack(new MemoryStore({ warnInProduction: false, clock }), { requireLogoutTokenTyp }, { clock });
    expect((await signIn(new HttpDevice(), stack.origin)).status).toBe(303);
    const res = await post(await logoutToken(clock.now() / 1000, null));
    expect(res.status).toBe(status);
    if (status === 400) expect(await res.json()).toMatchObject({ error: 'invalid_request', error_description: 'The logout token has the wrong typ.' });
    expect(await aliceSessions()).toHaveLength(status === 200 ? 0 : 1);
    // With typ logout+jwt it is accepted either way; a wrong typ never is.
    expect((await post(await logoutToken(clock.now() / 1000, 'JWT'))).status).toBe(400);
    expect((await post(await logoutToken(clock.now() / 1000))).status).toBe(200);
    expect(await aliceSessions()).toHaveLength(0);
  });
});
