import type { BffContext } from './context.js';

/**
 * Server-side operations for administrators and account flows (password change, account disabled).
 * Each takes effect everywhere at once: the guard checks the same store.
 */
export function createAdmin(ctx: BffContext) {
  return Object.freeze({
    /** Ends every device session of the user and rejects every access token issued before now. */
    async revokeUser(userId: string): Promise<{ sessionsEnded: number }> {
      const now = ctx.now();
      const ended = await ctx.store.endAllUserSessions(userId, now, now, ctx.markerTtlMs);
      ctx.metrics.logouts.inc({ scope: 'admin_user' });
      ctx.logger.info({ event: 'admin_revoke_user', userId, sessions: ended.length }, 'user revoked');
      return { sessionsEnded: ended.length };
    },

    /**
     * Puts one access token on the deny list until it would have expired anyway.
     * `expiresAt` (epoch ms, the token's `exp`) keeps the entry short; without it the longest token lifetime is used.
     */
    async revokeAccessToken(jti: string, expiresAt?: number): Promise<void> {
      const skewMs = ctx.options.clockSkewSeconds * 1000;
      const ttlMs = expiresAt === undefined ? ctx.markerTtlMs : Math.max(1, expiresAt - ctx.now() + skewMs);
      await ctx.store.revokeJti(jti, ttlMs);
      ctx.logger.info({ event: 'admin_revoke_token', jti }, 'access token revoked');
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

export type BffAdmin = ReturnType<typeof createAdmin>;
