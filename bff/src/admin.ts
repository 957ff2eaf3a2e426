import type { BffContext } from './context.js';
import { endSessions } from './session/end.js';
import type { DeviceSessionRecord } from './store/types.js';
import { tenantSchema } from './tokens/custom-claims.js';

/** Seconds since the epoch above this are milliseconds in disguise (1e11 s is the year 5138; 1e11 ms is 1973). */
const MAX_EXP_SECONDS = 1e11;

/** The token's `exp` claim, validated: a finite, non-negative number of seconds, not milliseconds. */
function checkExpSeconds(exp: unknown): number {
  if (typeof exp !== 'number' || !Number.isFinite(exp) || exp < 0) {
    throw new TypeError(`revokeAccessToken: exp must be the token's exp claim in seconds since the epoch, got ${String(exp)}`);
  }
  if (exp > MAX_EXP_SECONDS) {
    throw new TypeError(`revokeAccessToken: exp is in seconds (the token's exp claim), but ${exp} looks like milliseconds`);
  }
  return exp;
}

/**
 * Server-side operations for administrators and account flows (password change, account disabled).
 * Each takes effect everywhere at once: the guard checks the same store.
 */
export interface BffAdmin {
  /** Ends every device session of the user and rejects every access token issued before now. */
  revokeUser(userId: string): Promise<{ sessionsEnded: number }>;
  /**
   * The user's live device sessions (at most `session.maxPerUser`, the newest), oldest first. Records hold the
   * session's private key: never send them to a client as they are (the admin router sends public fields only).
   */
  listUserSessions(userId: string): Promise<DeviceSessionRecord[]>;
  /** Ends one device session of the user (by its public id). False when there is no such live session. */
  endUserSession(userId: string, sid: string): Promise<boolean>;
  /**
   * Puts one access token on the deny list until it would have expired anyway: the verified claims (or anything with
   * `jti` and `exp`), or the `jti` and the token's `exp` claim in seconds since the epoch.
   */
  revokeAccessToken(token: string | { readonly jti: string; readonly exp: number }, exp?: number): Promise<void>;
  /** Rejects every access token carrying `tenant` issued before now and ends every live device session of the tenant. */
  revokeTenant(tenant: string): Promise<{ sessionsEnded: number }>;
  /**
   * Incident response: rejects every access token issued before now, whoever's (a global `revoked_after`), and ends
   * every device session of every user. Nobody stays signed in; a login after it works.
   */
  revokeAllSessions(): Promise<{ sessionsEnded: number }>;
  /** Publishes the next signing key in the JWKS without using it yet; resolves to its kid. */
  stageSigningKey(): Promise<string>;
  /** Signs with the staged (or a new) key from now on; resolves to its kid. */
  rotateSigningKey(): Promise<string>;
  /** Drops every key and starts a new one (key compromise); resolves to the new kid. */
  emergencyRotateKeys(): Promise<string>;
}

export function createAdmin(ctx: BffContext): BffAdmin {
  return Object.freeze({
    /** Ends every device session of the user and rejects every access token issued before now. */
    async revokeUser(userId: string): Promise<{ sessionsEnded: number }> {
      const ended = await endSessions(
        ctx,
        { allOfUser: userId },
        {
          reason: 'admin_user',
          event: 'admin_revoke_user',
          message: 'user revoked',
          log: 'summary',
          fields: (e) => ({ userId, sessions: e.length }),
        },
      );
      return { sessionsEnded: ended.length };
    },

    /**
     * The user's live device sessions (at most `session.maxPerUser`, the newest), oldest first. Records hold the
     * session's private key: never send them to a client as they are (the admin router sends public fields only).
     */
    listUserSessions: (userId: string): Promise<DeviceSessionRecord[]> => ctx.store.listUserSessions(userId, ctx.now(), ctx.options.session.maxPerUser),

    /** Ends one device session of the user (by its public id): its refresh fails and its access tokens stop working. False when there is no such live session. */
    async endUserSession(userId: string, sid: string): Promise<boolean> {
      const ended = await endSessions(ctx, { userId, sid }, { reason: 'admin_device', event: 'admin_end_session', message: 'device session ended' });
      return ended.length > 0;
    },

    /**
     * Puts one access token on the deny list until it would have expired anyway. Pass the verified claims
     * (`req.auth`, or anything with `jti` and `exp`), or the `jti` and the token's `exp` claim: seconds since the
     * epoch, as JWTs carry it. A value that looks like milliseconds is refused rather than revoking for 1 ms.
     * Without `exp` the entry lives as long as the longest token can.
     */
    async revokeAccessToken(token: string | { readonly jti: string; readonly exp: number }, exp?: number): Promise<void> {
      const jti = typeof token === 'string' ? token : token?.jti;
      const expSeconds = typeof token === 'string' ? exp : token?.exp;
      if (typeof jti !== 'string' || jti.length === 0) throw new TypeError('revokeAccessToken: jti must be a non-empty string');
      const skewMs = ctx.options.tokens.clockSkewSeconds * 1000;
      // No token of ours outlives markerTtlMs from now, whatever exp a caller passes.
      const ttlMs =
        expSeconds === undefined ? ctx.markerTtlMs : Math.min(ctx.markerTtlMs, Math.max(1, checkExpSeconds(expSeconds) * 1000 - ctx.now() + skewMs));
      await ctx.store.revokeJti(jti, ttlMs);
      ctx.logger.info({ event: 'admin_revoke_token', jti }, 'access token revoked');
    },

    /**
     * Revokes a tenant: rejects every access token carrying `tenant` issued before now (whole seconds, like iat) and
     * ends every live device session of the tenant. See docs/admin.md, "Tenant-wide revocation".
     */
    async revokeTenant(tenant: string): Promise<{ sessionsEnded: number }> {
      const parsed = tenantSchema.safeParse(tenant);
      if (!parsed.success)
        throw new TypeError('revokeTenant: tenant must be 1 to 256 characters of text without control or format characters (Unicode Cc, Cf)');
      const ended = await endSessions(
        ctx,
        { tenant: parsed.data },
        {
          reason: 'tenant_revoked',
          event: 'admin_revoke_tenant',
          message: 'tenant revoked',
          log: 'summary',
          fields: (e) => ({ tenant: parsed.data, sessions: e.length }),
        },
      );
      return { sessionsEnded: ended.length };
    },

    /**
     * Incident response: a global `revoked_after` (whole seconds, like iat: a token issued in the same second on a new
     * login still works) rejects every older access token on every instance, and every device session ends (refresh
     * answers 401 session_revoked). Pair it with emergencyRotateKeys when a key may have leaked. See docs/admin.md.
     */
    async revokeAllSessions(): Promise<{ sessionsEnded: number }> {
      const now = ctx.now();
      const sessionsEnded = await ctx.store.revokeAllSessions(now, now, ctx.markerTtlMs);
      if (sessionsEnded > 0) ctx.metrics.logouts.inc({ reason: 'all_revoked' }, sessionsEnded);
      ctx.logger.warn({ event: 'admin_revoke_all_sessions', sessions: sessionsEnded }, 'every session revoked');
      return { sessionsEnded };
    },

    /** Publishes the next signing key in the JWKS without using it yet (lets JWKS caches learn it first). */
    stageSigningKey: (): Promise<string> => ctx.keyRing.stageKey(),

    /** Signs with the staged (or a new) key from now on; the old key verifies until its tokens expire. */
    rotateSigningKey: (): Promise<string> => ctx.keyRing.rotate(),

    /** Drops every key and starts a new one: every outstanding access token stops working (key compromise). */
    async emergencyRotateKeys(): Promise<string> {
      const kid = await ctx.keyRing.emergencyRotate();
      ctx.logger.warn({ event: 'emergency_key_rotation', kid }, 'every signing key dropped');
      return kid;
    },
  });
}
