import type { BffContext } from '../context.js';
import type { AuthRequest, AuthRoute, Reply } from '../http/exchange.js';
import { ATTR } from '../observability/tracing.js';
import { tracedRoute } from '../observability/tracing-route.js';
import { clearedSessionCookieHeaders } from '../session/cookie.js';
import { endSessions } from '../session/end.js';
import { requireRecentAuthentication } from './require-recent-authentication.js';
import { requireSession } from '../session/resolve.js';

/**
 * POST /logout-all: ends every device session of the caller's user and sets the user's `revoked_after`, so every
 * access token issued before now is rejected. A login right after (even in the same second) is unaffected: its
 * session did not exist when the sessions were ended, and `revoked_after` compares whole seconds with `<`.
 */
export function createLogoutAllRoute(ctx: BffContext): AuthRoute {
  return tracedRoute(ctx, 'latchkey.logout_all', async (req: AuthRequest, reply: Reply, trace) => {
    const { session } = await requireSession(ctx, req.get('cookie'));
    requireRecentAuthentication(ctx, session, ctx.options.session.logoutAllMaxAuthAgeSeconds);
    const ended = await endSessions(
      ctx,
      { allOfUser: session.userId },
      {
        reason: 'logout_all',
        event: 'logout_all',
        message: 'logout on every device',
        log: 'summary',
        fields: (e) => ({ userId: session.userId, sessions: e.length }),
      },
    );
    trace.session(session);
    trace.attribute(ATTR.sessionsEnded, ended.length);
    trace.outcome('ok');
    return reply.setCookie(...clearedSessionCookieHeaders(ctx)).send(204);
  });
}
