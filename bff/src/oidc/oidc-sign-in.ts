import * as client from 'openid-client';
import type { BffContext } from '../context.js';
import type { AuthenticatedUser, IdpClaims, ResolvedOidcProvider } from '../options.js';
import type { IdpLink } from '../store/types.js';
import { idTokenSignatureValid } from './id-token-signature.js';
import type { IdpClient } from './idp-client.js';
import { sealIdpToken } from './idp-token-seal.js';
import type { LoginTransaction } from './login-transaction.js';
import { defaultMapUser } from './map-user.js';
import { authenticationAgeProblem } from './reauthentication.js';
import { signInFailed } from './sign-in-failure.js';
import { exchangeCode } from './exchange-code.js';

/** Who signed in at the provider, and (OpenID Connect) the link the device session keeps to the IdP session. */
export interface ProviderSignIn {
  user: AuthenticatedUser;
  idp?: IdpLink;
  /** OpenID Connect: the ID token's claims (`auth_time`, `acr`, `amr` for the session's stamp). */
  idToken?: IdpClaims;
}

/**
 * The OpenID Connect half of the callback: openid-client checks `state`, the RFC 9207 `iss` parameter, exchanges the
 * code with the PKCE verifier and validates the ID token's claims (iss, aud, exp, nonce); its signature is checked
 * here against the IdP's JWKS (openid-client does not by default). Profile claims come from UserInfo when offered;
 * `mapUser` picks the user. Throws 400 `oidc_login_failed` (503 when the IdP cannot be reached).
 */
export async function completeOidcSignIn(
  ctx: BffContext,
  idp: IdpClient<ResolvedOidcProvider>,
  transaction: LoginTransaction,
  search: string,
): Promise<ProviderSignIn> {
  const name = idp.options.name;
  const config = await idp.config();
  const tokens = await exchangeCode(ctx, { name, config, redirectUri: idp.options.redirectUri }, transaction, search, true);
  const idTokenClaims = tokens.claims() as IdpClaims | undefined;
  if (!idTokenClaims || tokens.id_token === undefined) throw signInFailed(ctx, name, 'no id_token', 'The identity provider sent no ID token.');
  if (!(await idTokenSignatureValid(idp, tokens.id_token))) {
    throw signInFailed(ctx, name, 'id_token signature', 'The identity provider’s ID token is not signed by one of its keys.');
  }
  // Step-up: the authentication must be as recent as asked (max_age, a re-authentication; reauthentication.ts).
  const tooOld = authenticationAgeProblem(ctx, transaction.authentication, idTokenClaims);
  if (tooOld !== null) throw signInFailed(ctx, name, 'auth_time', tooOld);
  const claims = await withUserInfo(ctx, config, tokens.access_token, idTokenClaims);
  const user = await (idp.options.mapUser ?? defaultMapUser)(claims);
  if (user === null) throw signInFailed(ctx, name, 'mapUser refused', 'This account may not sign in here.');

  const expiresIn = tokens.expiresIn();
  return {
    user,
    idToken: idTokenClaims,
    idp: {
      iss: claims.iss,
      sub: claims.sub,
      sid: typeof claims.sid === 'string' && claims.sid !== '' ? claims.sid : null,
      refreshTokenSealed: tokens.refresh_token ? sealIdpToken(ctx, 'refresh_token', tokens.refresh_token) : null,
      idTokenSealed: sealIdpToken(ctx, 'id_token', tokens.id_token),
      // What `bff.proxy({ token: 'idp' })` attaches upstream; never sent to the browser.
      accessTokenSealed: sealIdpToken(ctx, 'access_token', tokens.access_token),
      // Without expires_in the IdP access token is never considered due.
      accessExpiresAt: expiresIn === undefined ? Number.MAX_SAFE_INTEGER : ctx.now() + expiresIn * 1000,
    },
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
