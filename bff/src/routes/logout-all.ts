import type { RequestHandler } from 'express';
import type { BffContext } from '../context.js';
import { requireSession } from '../http/session-auth.js';
import { clearSessionCookie } from '../http/session-cookie.js';
import { ATTR } from '../observability/tracing.js';
import { tracedRoute } from '../observability/tracing-route.js';

/**
 * POST /logout-all: ends every device session of the caller's user and sets the user's `revoked_after`, so every
 * access token issued before now is rejected. A login right after (even in the same second) is unaffected: its
 * session did not exist when the sessions were ended, and `revoked_after` compares whole seconds with `<`.
 */
export function createLogoutAllHandler(ctx: BffContext): RequestHandler {
  return tracedRoute(ctx, 'latchkey.logout_all', async (req, res, trace) => {
    const { session } = await requireSession(ctx, req);
    const now = ctx.now();
    const ended = await ctx.store.endAllUserSessions(session.userId, now, now, ctx.markerTtlMs);
    trace.session(session);
    trace.attribute(ATTR.sessionsEnded, ended.length);
    trace.outcome('ok');
    ctx.metrics.logouts.inc({ scope: 'all' });
    ctx.logger.info({ event: 'logout_all', userId: session.userId, sessions: ended.length }, 'logout on every device');
    clearSessionCookie(res, ctx.options);
    res.status(204).end();
  });
}
