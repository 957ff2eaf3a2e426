import * as client from 'openid-client';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRoute } from '../http/exchange.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { idTokenSignatureValid } from '../oidc/id-token-signature.js';
import { idpUnavailable, isIdpUnreachable, oauthErrorCode, type IdpClient } from '../oidc/idp-client.js';
import { sealIdpToken } from '../oidc/idp-token-seal.js';
import type { LoginTransactions } from '../oidc/login-transaction.js';
import { authenticationAgeProblem, restampAtIdp } from '../oidc/reauthentication.js';
import { endReplacedSession } from '../oidc/replaced-session.js';
import { defaultMapUser } from '../oidc/map-user.js';
import type { IdpClaims } from '../options.js';
import { sessionCookieHeaders } from '../session/cookie.js';
import { startDeviceSession } from '../session/start-device-session.js';
import type { IdpLink } from '../store/types.js';

/**
 * GET /oidc/callback: the IdP sends the browser back here (a cross-site top-level navigation). The login transaction
 * is taken and destroyed first, so it serves exactly one callback whatever the outcome. openid-client checks `state`,
 * the RFC 9207 `iss` parameter, exchanges the code with the PKCE verifier and validates the ID token's claims (iss,
 * aud, exp, nonce); its signature is checked here against the IdP's JWKS (openid-client does not by default). Then a
 * normal device session starts (startDeviceSession, as for password login) holding the IdP tokens sealed, and the
 * browser goes to `returnTo` (303); the page gets its access token from POST /refresh.
 * Every failure is a 400 `oidc_login_failed` (503 when the IdP cannot be reached) and stores nothing.
 */
export function createOidcCallbackRoute(ctx: BffContext, idp: IdpClient, transactions: LoginTransactions): AuthRoute {
  const mapUser = idp.options.mapUser ?? defaultMapUser;
  return async (req, reply) => {
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    const { transaction, clearCookie } = await transactions.take(req.get('cookie'));
    reply.setCookie(clearCookie);
    if (transaction === null) {
      ctx.metrics.logins.inc({ outcome: 'oidc_login_failed' });
      throw failed('No sign-in is in progress in this browser (it expired, was already completed, or was not started here).');
    }
    const config = await idp.config();
    // The URL the IdP redirected to: the registered redirect URI with the query the browser brought.
    const currentUrl = new URL(idp.options.redirectUri);
    currentUrl.search = req.search;

    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: transaction.codeVerifier,
        expectedState: transaction.state,
        expectedNonce: transaction.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      if (isIdpUnreachable(error)) throw idpUnavailable('token', error);
      const code = oauthErrorCode(error);
      ctx.metrics.logins.inc({ outcome: 'oidc_login_failed' });
      ctx.logger.warn({ event: 'oidc_login_failed', reason: code ?? (error as Error).message }, 'sign-in at the identity provider failed');
      throw failed(code ? `The identity provider answered ${code}.` : 'The identity provider’s answer did not match this sign-in.', error);
    }
    const idTokenClaims = tokens.claims() as IdpClaims | undefined;
    if (!idTokenClaims || tokens.id_token === undefined) throw failed('The identity provider sent no ID token.');
    if (!(await idTokenSignatureValid(idp, tokens.id_token))) {
      ctx.metrics.logins.inc({ outcome: 'oidc_login_failed' });
      ctx.logger.warn({ event: 'oidc_login_failed', reason: 'id_token signature' }, 'the ID token is not signed by a key the identity provider publishes');
      throw failed('The identity provider’s ID token is not signed by one of its keys.');
    }
    const tooOld = authenticationAgeProblem(ctx, transaction.authentication, idTokenClaims);
    if (tooOld !== null) {
      ctx.metrics.logins.inc({ outcome: 'oidc_login_failed' });
      ctx.logger.warn({ event: 'oidc_login_failed', reason: 'auth_time' }, tooOld);
      throw failed(tooOld);
    }
    const claims = await withUserInfo(ctx, config, tokens.access_token, idTokenClaims);
    const user = await mapUser(claims);
    if (user === null) {
      ctx.metrics.logins.inc({ outcome: 'oidc_login_failed' });
      ctx.logger.warn({ event: 'oidc_login_failed', reason: 'mapUser refused' }, 'sign-in refused by mapUser');
      throw failed('This account may not sign in here.');
    }

    const now = ctx.now();
    const expiresIn = tokens.expiresIn();
    const idpLink: IdpLink = {
      iss: claims.iss,
      sub: claims.sub,
      sid: typeof claims.sid === 'string' && claims.sid !== '' ? claims.sid : null,
      refreshTokenSealed: tokens.refresh_token ? sealIdpToken(ctx, 'refresh_token', tokens.refresh_token) : null,
      idTokenSealed: tokens.id_token ? sealIdpToken(ctx, 'id_token', tokens.id_token) : null,
      // Without expires_in the IdP access token is never considered due.
      accessExpiresAt: expiresIn === undefined ? Number.MAX_SAFE_INTEGER : now + expiresIn * 1000,
    };
    // Step-up: the same device session, re-stamped (reauthentication.ts); its cookie stays as it is.
    const reauth = transaction.authentication?.reauth;
    if (reauth) {
      const { refreshTokenSealed, idTokenSealed, accessExpiresAt } = idpLink;
      await restampAtIdp(ctx, reauth, user, { ...claims, ...idTokenClaims }, { refreshTokenSealed, idTokenSealed, accessExpiresAt });
      return reply.redirect(transaction.returnTo);
    }
    // The browser's previous session: its Strict cookie does not come with this navigation from the IdP's site.
    if (transaction.replaces) await endReplacedSession(ctx, transaction.replaces, { userId: user.id, ip: req.ip });
    const { session, cookie } = await startDeviceSession(ctx, { cookieHeader: req.get('cookie'), userAgent: req.get('user-agent'), ip: req.ip }, user, {
      idp: idpLink,
      idToken: idTokenClaims,
    });
    return reply.setCookie(...sessionCookieHeaders(ctx, session, cookie)).redirect(transaction.returnTo);
  };
}

/**
 * Many IdPs put profile claims (name, email) only in the UserInfo response for the code flow. Fetched once at sign-in
 * (openid-client checks its `sub` against the ID token's); the ID token's own claims win. A failure here does not
 * fail the sign-in: mapUser then sees the ID token's claims only.
 */
async function withUserInfo(ctx: BffContext, config: client.Configuration, accessToken: string, claims: IdpClaims): Promise<IdpClaims> {
  if (!config.serverMetadata().userinfo_endpoint) return claims;
  try {
    const info = await client.fetchUserInfo(config, accessToken, claims.sub);
    return { ...info, ...claims } as IdpClaims;
  } catch (error) {
    ctx.logger.warn({ event: 'oidc_userinfo_failed', reason: (error as Error).message }, 'UserInfo request failed; using the ID token claims');
    return claims;
  }
}

function failed(message: string, cause?: unknown): LatchkeyError {
  return new LatchkeyError('oidc_login_failed', message, cause === undefined ? {} : { cause });
}
