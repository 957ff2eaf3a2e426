import * as client from 'openid-client';
import type { BffContext } from '../context.js';
import { randomToken } from '../crypto/random.js';
import type { ResolvedOidcProvider } from '../options.js';
import type { DeviceSessionRecord, IdpLink } from '../store/types.js';
import { idTokenSignatureValid } from './id-token-signature.js';
import { idpUnavailable, isIdpUnreachable, oauthErrorCode, type IdpClient } from './idp-client.js';
import { sealIdpToken, unsealIdpToken } from './idp-token-seal.js';
import type { EndNotice } from '../session/end.js';

export type RenewOutcome = 'not_due' | 'renewed' | 'revoked_at_idp' | 'recheck_due';

/** How a device session ends when its IdP refuses the refresh token (`invalid_grant`), on a refresh or a proxied call. */
export const IDP_REFUSED = {
  reason: 'idp_refused',
  event: 'oidc_grant_revoked',
  message: 'the identity provider refused the refresh token; device session ended',
} as const satisfies EndNotice;

/** An OpenID Connect provider's client: the kind that starts sessions with an IdP link. */
export type OidcProviderClient = IdpClient<ResolvedOidcProvider>;

/**
 * The provider that started the session (its issuer). One no longer configured cannot be asked: the session runs on to
 * its own timeouts, as a password session does.
 */
export const providerOf = (ctx: BffContext, link: IdpLink): OidcProviderClient | undefined => ctx.idps?.byIssuer(link.iss);

/** Whether the session's IdP access token is due for renewal (expires within the margin) and can be renewed. */
export function idpRenewalDue(ctx: BffContext, idp: OidcProviderClient, link: IdpLink): boolean {
  return link.refreshTokenSealed !== null && link.accessExpiresAt - idp.options.refreshMarginSeconds * 1000 <= ctx.now();
}

/**
 * How long a renewal claim holds when its holder never writes or releases it (a crash mid-renewal): one IdP request
 * with room to spare, so a live renewal is never overtaken and a dead one blocks its session only briefly.
 */
export const renewalLeaseMs = (idp: OidcProviderClient): number => idp.options.requestTimeoutMs + 5000;

/**
 * For a device session started by the IdP whose IdP access token is due (the refresh route): renews at the IdP under
 * the store's renewal claim, so one caller across every instance spends the refresh token. When another caller holds
 * the claim, or renewed since this session was read, nothing is done here (`not_due`): that renewal stands for this
 * one, and an IdP refusal it meets ends the session there. `recheck_due` for a session the IdP gave no refresh token,
 * once its last authentication there is `recheckWithoutRefreshTokenSeconds` old.
 */
export async function renewAtIdpIfDue(ctx: BffContext, session: DeviceSessionRecord): Promise<RenewOutcome> {
  const link = session.idp;
  const idp = link && providerOf(ctx, link);
  if (!link || !idp) return 'not_due';
  if (link.refreshTokenSealed === null) {
    // Nothing to ask the IdP with: rather than live on unchecked for the whole absolute lifetime, the session ends this
    // long after its last authentication there, and the page signs in at the IdP again (silently while its session lasts).
    const authenticatedAt = session.authTime ?? session.createdAt;
    return ctx.now() - authenticatedAt >= idp.options.recheckWithoutRefreshTokenSeconds * 1000 ? 'recheck_due' : 'not_due';
  }
  if (!idpRenewalDue(ctx, idp, link)) return 'not_due';
  const holder = randomToken(16);
  const claim = await ctx.store.claimIdpRenewal(session.key, {
    holder,
    seenAccessExpiresAt: link.accessExpiresAt,
    now: ctx.now(),
    leaseMs: renewalLeaseMs(idp),
  });
  if (claim !== 'claimed') return 'not_due';
  return (await renewClaimed(ctx, idp, session, holder)).outcome;
}

export type RenewResult = { outcome: 'renewed'; link: IdpLink; accessToken: string } | { outcome: 'revoked_at_idp' };

/**
 * The renewal itself, by the holder of the session's renewal claim: the IdP's refresh grant with the sealed refresh
 * token, and what comes back stored (sealed; a rotated refresh token replaces the old one), which ends the claim.
 * `revoked_at_idp` when the IdP refuses the grant (invalid_grant: the user signed out there, or was disabled), or when
 * the sealed token cannot be opened any more (its secret was retired). Throws 503 `temporarily_unavailable` when the
 * IdP cannot answer, so a down IdP never signs anyone out; the claim is released then, so the next call retries.
 */
export async function renewClaimed(ctx: BffContext, idp: OidcProviderClient, session: DeviceSessionRecord, holder: string): Promise<RenewResult> {
  const link = session.idp!;
  const release = () => ctx.store.releaseIdpRenewal(session.key, holder).catch(() => undefined);
  const refreshToken = link.refreshTokenSealed === null ? null : unsealIdpToken(ctx, 'refresh_token', link.refreshTokenSealed);
  if (refreshToken === null) {
    await release();
    return { outcome: 'revoked_at_idp' };
  }
  const now = ctx.now();
  let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
  try {
    const config = await idp.config();
    tokens = await client.refreshTokenGrant(config, refreshToken);
  } catch (error) {
    await release();
    if (oauthErrorCode(error) === 'invalid_grant') return { outcome: 'revoked_at_idp' };
    if (!isIdpUnreachable(error)) {
      ctx.logger.error({ event: 'oidc_refresh_failed', reason: oauthErrorCode(error) ?? (error as Error).message }, 'refresh at the identity provider failed');
    }
    throw idpUnavailable('refresh', error);
  }
  const expiresIn = tokens.expiresIn();
  const idToken = tokens.id_token !== undefined && (await verifiedIdToken(ctx, idp, tokens.id_token));
  const update = {
    refreshTokenSealed: tokens.refresh_token ? sealIdpToken(ctx, 'refresh_token', tokens.refresh_token) : link.refreshTokenSealed,
    idTokenSealed: idToken ? sealIdpToken(ctx, 'id_token', idToken) : link.idTokenSealed,
    accessTokenSealed: sealIdpToken(ctx, 'access_token', tokens.access_token),
    accessExpiresAt: expiresIn === undefined ? Number.MAX_SAFE_INTEGER : ctx.now() + expiresIn * 1000,
  };
  await ctx.store.updateIdpTokens(session.key, update, now);
  return { outcome: 'renewed', link: { ...link, ...update }, accessToken: tokens.access_token };
}

/**
 * A renewed ID token is only the next logout hint, and the rest of the answer (a rotated refresh token) must be kept
 * whatever: one that does not verify, or cannot be checked right now, is dropped and the previous one stays.
 */
async function verifiedIdToken(ctx: BffContext, idp: OidcProviderClient, idToken: string): Promise<string | null> {
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
