import { setTimeout as sleep } from 'node:timers/promises';
import type { BffContext } from '../context.js';
import { randomToken } from '../crypto/random.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { endSessions } from '../session/end.js';
import type { DeviceSessionRecord, IdpLink } from '../store/types.js';
import { idpUnavailable } from './idp-client.js';
import { unsealIdpToken } from './idp-token-seal.js';
import { IDP_REFUSED, idpRenewalDue, providerOf, renewalLeaseMs, renewClaimed, type OidcProviderClient } from './renew-at-idp.js';

/**
 * `bff.proxy({ token: 'idp' })`: the user's IdP access token for a device session the IdP started, opened from the
 * session's sealed IdP link, and renewed with the sealed IdP refresh token when due (docs/proxy.md, "IdP tokens").
 *
 * One renewal per session: in this process, concurrent calls share one renewal (single flight); across instances the
 * store's renewal claim (a compare-and-set on the IdP link plus a short lease) lets one caller spend the refresh token,
 * and the others use the still-valid token or wait for the renewed one (polling the session). The IdP refusing the
 * grant (`invalid_grant`) ends the device session: 401 `session_revoked`. The IdP unreachable: the still-valid token
 * when there is one, else 503 `temporarily_unavailable` with Retry-After, never a sign-out. A session not started at
 * the IdP (password login) gets 403 `insufficient_scope`.
 */
export interface IdpAccessTokens {
  get(session: DeviceSessionRecord): Promise<string>;
}

export interface IdpAccessTokenOptions {
  /** How often a caller waiting on another instance's renewal reads the session again. */
  pollMs?: number;
}

/** Errors meaning "the IdP could not answer", told apart from the store's 503 in the proxy's metrics. */
const unavailable = new WeakSet<object>();
export const isIdpUnavailable = (error: unknown): boolean => typeof error === 'object' && error !== null && unavailable.has(error);

export function createIdpAccessTokens(ctx: BffContext, options: IdpAccessTokenOptions = {}): IdpAccessTokens {
  const pollMs = options.pollMs ?? 50;
  const inFlight = new Map<string, Promise<string>>();

  /** The link's access token while it has not expired (renewal due or not), else null. */
  const usable = (link: IdpLink): string | null =>
    link.accessTokenSealed && link.accessExpiresAt > ctx.now() ? unsealIdpToken(ctx, 'access_token', link.accessTokenSealed) : null;

  const reread = async (key: string): Promise<IdpLink> => {
    const session = await ctx.store.getSession(key, ctx.now());
    // Ended meanwhile (most often by the renewal that met invalid_grant on another instance).
    if (!session?.idp) throw new LatchkeyError('session_revoked');
    return session.idp;
  };

  async function ended(session: DeviceSessionRecord): Promise<never> {
    await endSessions(ctx, { key: session.key }, { ...IDP_REFUSED, fields: { route: 'proxy' } });
    throw new LatchkeyError('session_revoked');
  }

  async function renew(session: DeviceSessionRecord, idp: OidcProviderClient): Promise<string> {
    const leaseMs = renewalLeaseMs(idp);
    const holder = randomToken(16);
    let link = session.idp!;
    // Real time, not the BFF's clock: this bounds how long a call waits on another instance.
    const giveUpAt = performance.now() + leaseMs;
    for (;;) {
      const claim = await ctx.store.claimIdpRenewal(session.key, { holder, seenAccessExpiresAt: link.accessExpiresAt, now: ctx.now(), leaseMs });
      if (claim === 'gone') throw new LatchkeyError('session_revoked');
      if (claim === 'claimed') {
        let result;
        try {
          result = await renewClaimed(ctx, idp, { ...session, idp: link }, holder);
        } catch (error) {
          const still = usable(link);
          if (still === null) throw markUnavailable(error);
          ctx.logger.warn({ event: 'idp_token_renewal_deferred', sid: session.sid }, 'the identity provider could not renew; its access token is still valid');
          return still;
        }
        if (result.outcome === 'revoked_at_idp') return ended(session);
        return result.accessToken;
      }
      if (claim === 'changed') {
        // Renewed since this session was read: that renewal stands for this one.
        link = await reread(session.key);
        const renewed = usable(link);
        if (renewed !== null) return renewed;
        continue;
      }
      // busy: another instance is renewing.
      const still = usable(link);
      if (still !== null) return still;
      if (performance.now() > giveUpAt) throw markUnavailable(idpUnavailable('refresh', new Error('another renewal did not finish in time')));
      await sleep(pollMs);
      const next = await reread(session.key);
      if (next.accessExpiresAt !== link.accessExpiresAt) {
        const renewed = usable(next);
        if (renewed !== null) return renewed;
      }
      link = next;
    }
  }

  return {
    async get(session) {
      const link = session.idp;
      if (!link) {
        throw new LatchkeyError('insufficient_scope', 'This API takes the identity provider’s access token: sign in through the identity provider to use it.');
      }
      const current = usable(link);
      const idp = providerOf(ctx, link);
      if (current !== null && (!idp || !idpRenewalDue(ctx, idp, link))) return current;
      // No refresh token, or its provider is no longer configured: nothing can renew it.
      if (link.refreshTokenSealed === null || !idp) {
        if (current !== null) return current;
        throw new LatchkeyError(
          'insufficient_scope',
          'The identity provider’s access token for this session expired and cannot be renewed (it issued no refresh token): sign in again through it.',
        );
      }
      let pending = inFlight.get(session.key);
      if (pending === undefined) {
        pending = renew(session, idp).finally(() => inFlight.delete(session.key));
        inFlight.set(session.key, pending);
      }
      return pending;
    },
  };
}

function markUnavailable(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) unavailable.add(error);
  return error;
}
