import * as client from 'openid-client';
import type { BffContext } from '../context.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { idTokenSignatureValid } from './id-token-signature.js';
import type { ResolvedOidcProvider } from '../options.js';
import { idpUnavailable, isIdpUnreachable, oauthErrorCode, type IdpClient } from './idp-client.js';
import { sealIdpToken, unsealIdpToken } from './idp-token-seal.js';

export type RenewOutcome = 'not_due' | 'renewed' | 'revoked_at_idp' | 'recheck_due';

/**
 * For a device session started by the IdP whose IdP access token is due: renews at the IdP with the sealed refresh
 * token and stores what comes back (a rotated refresh token replaces the old one). `revoked_at_idp` when the IdP
 * refuses the grant (invalid_grant: the user signed out there, or was disabled), or when the sealed token cannot be
 * opened any more (its secret was retired). `recheck_due` for a session the IdP gave no refresh token, once its last
 * authentication there is `recheckWithoutRefreshTokenSeconds` old. Throws 503 `temporarily_unavailable` when the IdP cannot answer, so a
 * down IdP never signs anyone out.
 */
export async function renewAtIdpIfDue(ctx: BffContext, session: DeviceSessionRecord): Promise<RenewOutcome> {
  const link = session.idp;
  if (!link) return 'not_due';
  // The provider that started the session (its issuer). One no longer configured cannot be asked: the session runs on
  // to its own timeouts, as a password session does.
  const idp = ctx.idps?.byIssuer(link.iss);
  if (!idp) return 'not_due';
  const now = ctx.now();
  if (link.refreshTokenSealed === null) {
    // Nothing to ask the IdP with: rather than live on unchecked for the whole absolute lifetime, the session ends this
    // long after its last authentication there, and the page signs in at the IdP again (silently while its session lasts).
    const authenticatedAt = session.authTime ?? session.createdAt;
    return now - authenticatedAt >= idp.options.recheckWithoutRefreshTokenSeconds * 1000 ? 'recheck_due' : 'not_due';
  }
  if (link.accessExpiresAt - idp.options.refreshMarginSeconds * 1000 > now) return 'not_due';
  const refreshToken = unsealIdpToken(ctx, 'refresh_token', link.refreshTokenSealed);
  if (refreshToken === null) return 'revoked_at_idp';

  const config = await idp.config();
  let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
  try {
    tokens = await client.refreshTokenGrant(config, refreshToken);
  } catch (error) {
    if (oauthErrorCode(error) === 'invalid_grant') return 'revoked_at_idp';
    if (!isIdpUnreachable(error)) {
      ctx.logger.error({ event: 'oidc_refresh_failed', reason: oauthErrorCode(error) ?? (error as Error).message }, 'refresh at the identity provider failed');
    }
    throw idpUnavailable('refresh', error);
  }
  const expiresIn = tokens.expiresIn();
  const idToken = tokens.id_token !== undefined && (await verifiedIdToken(ctx, idp, tokens.id_token));
  await ctx.store.updateIdpTokens(
    session.key,
    {
      refreshTokenSealed: tokens.refresh_token ? sealIdpToken(ctx, 'refresh_token', tokens.refresh_token) : link.refreshTokenSealed,
      idTokenSealed: idToken ? sealIdpToken(ctx, 'id_token', idToken) : link.idTokenSealed,
      accessExpiresAt: expiresIn === undefined ? Number.MAX_SAFE_INTEGER : ctx.now() + expiresIn * 1000,
    },
    now,
  );
  return 'renewed';
}

/**
 * A renewed ID token is only the next logout hint, and the rest of the answer (a rotated refresh token) must be kept
 * whatever: one that does not verify, or cannot be checked right now, is dropped and the previous one stays.
 */
async function verifiedIdToken(ctx: BffContext, idp: IdpClient<ResolvedOidcProvider>, idToken: string): Promise<string | null> {
  try {
    if (await idTokenSignatureValid(idp, idToken)) return idToken;
    ctx.logger.error(
      { event: 'oidc_refresh_id_token_refused', reason: 'signature' },
      'the renewed ID token is not signed by a key the identity provider publishes',
    );
  } catch (error) {
    ctx.logger.warn(
      { event: 'oidc_refresh_id_token_refused', reason: (error as Error).message },
      'the renewed ID token could not be checked; keeping the previous one',
    );
  }
  return null;
}
