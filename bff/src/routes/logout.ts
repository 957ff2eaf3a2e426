import type { RequestHandler } from 'express';
import type { BffContext } from '../context.js';
import { readSessionCookie } from '../http/session-auth.js';
import { clearSessionCookie } from '../http/session-cookie.js';

/** POST /logout: ends this device's session (its access tokens stop working at once). Idempotent: always 204. */
export function createLogoutHandler(ctx: BffContext): RequestHandler {
  return async (req, res) => {
    const cookie = readSessionCookie(ctx, req);
    if (cookie !== null) {
      const ended = await ctx.store.endSession(cookie.key, 'logout', ctx.now(), ctx.markerTtlMs);
      if (ended !== null) {
        ctx.metrics.logouts.inc({ scope: 'device' });
        ctx.logger.info({ event: 'logout', userId: ended.userId, sid: ended.sid }, 'logout');
      }
    }
    clearSessionCookie(res, ctx.options);
    res.status(204).end();
  };
}
