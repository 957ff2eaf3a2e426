import type { BffContext } from '../context.js';
import type { AuthRequest, AuthRoute, Reply } from '../http/exchange.js';
import { ATTR } from '../observability/tracing.js';
import { tracedRoute } from '../observability/tracing-route.js';
import { endSessions } from '../session/end.js';
import { requireRecentAuthentication } from './require-recent-authentication.js';
import { requireSession } from '../session/resolve.js';

/**
 * POST /logout-others: ends every device session of the caller's user except the caller's own, in one atomic store
 * operation (each with its sid marker and revocation event, so the other devices' access tokens stop working and
 * their event streams hear `session_ended`). No `revoked_after`: this device's tokens and cookie stay valid, so the
 * answer is a bare 204 and the cookie is left alone. 401 `no_session` when the caller's session is not live (also
 * when it ends concurrently: then nothing ends).
 */
export function createLogoutOthersRoute(ctx: BffContext): AuthRoute {
  return tracedRoute(ctx, 'latchkey.logout_others', async (req: AuthRequest, reply: Reply, trace) => {
    const { session } = await requireSession(ctx, req.get('cookie'));
    requireRecentAuthentication(ctx, session, ctx.options.session.logoutOthersMaxAuthAgeSeconds);
    const ended = await endSessions(
      ctx,
      { othersOfUser: session.userId, keepKey: session.key },
      {
        reason: 'logout_others',
        event: 'logout_others',
        message: 'logout on every other device',
        log: 'summary',
        fields: (e) => ({ userId: session.userId, sid: session.sid, sessions: e.length }),
      },
    );
    trace.session(session);
    trace.attribute(ATTR.sessionsEnded, ended.length);
    trace.outcome('ok');
    return reply.send(204);
  });
}
