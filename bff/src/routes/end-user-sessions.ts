import type { BffContext } from '../context.js';
import type { AuthRequest, AuthRoute, Reply } from '../http/exchange.js';
import { ATTR } from '../observability/tracing.js';
import { tracedRoute } from '../observability/tracing-route.js';
import { clearedSessionCookieHeaders } from '../session/cookie.js';
import { endSessions, type EndNotice, type EndTarget } from '../session/end.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { requireRecentAuthentication } from './require-recent-authentication.js';
import { requireSession } from '../session/resolve.js';

/** What sets the two routes that end sessions of the caller's user apart. */
interface EndUserSessionsRoute {
  span: string;
  /** The step-up bound (`session.*MaxAuthAgeSeconds`), undefined for none. */
  maxAuthAgeSeconds: number | undefined;
  target(session: DeviceSessionRecord): EndTarget;
  notice: Pick<EndNotice, 'reason' | 'event' | 'message'>;
  /** The summary log line's fields besides `sessions` (how many ended). */
  fields(session: DeviceSessionRecord): Record<string, unknown>;
  /** Whether the caller's own cookie ends too (its session did). */
  clearsCookie: boolean;
}

/**
 * One cookie route that ends sessions of the caller's user: the caller's session must be live (401 `no_session`) and,
 * when configured, recently authenticated (401 `insufficient_user_authentication`, nothing ended); then one store
 * operation ends them, each with its sid marker and revocation event; the answer is 204.
 */
function createEndUserSessionsRoute(ctx: BffContext, route: EndUserSessionsRoute): AuthRoute {
  return tracedRoute(ctx, route.span, async (req: AuthRequest, reply: Reply, trace) => {
    const { session } = await requireSession(ctx, req.get('cookie'));
    requireRecentAuthentication(ctx, session, route.maxAuthAgeSeconds);
    const notice = { ...route.notice, log: 'summary' as const, fields: (e: readonly unknown[]) => ({ ...route.fields(session), sessions: e.length }) };
    const ended = await endSessions(ctx, route.target(session), notice);
    trace.session(session);
    trace.attribute(ATTR.sessionsEnded, ended.length);
    trace.outcome('ok');
    return (route.clearsCookie ? reply.setCookie(...clearedSessionCookieHeaders(ctx)) : reply).send(204);
  });
}

/**
 * POST /logout-all: ends every device session of the caller's user and sets the user's `revoked_after`, so every
 * access token issued before now is rejected. A login right after (even in the same second) is unaffected: its
 * session did not exist when the sessions were ended, and `revoked_after` compares whole seconds with `<`.
 */
export const createLogoutAllRoute = (ctx: BffContext): AuthRoute =>
  createEndUserSessionsRoute(ctx, {
    span: 'latchkey.logout_all',
    maxAuthAgeSeconds: ctx.options.session.logoutAllMaxAuthAgeSeconds,
    target: (session) => ({ allOfUser: session.userId }),
    notice: { reason: 'logout_all', event: 'logout_all', message: 'logout on every device' },
    fields: (session) => ({ userId: session.userId }),
    clearsCookie: true,
  });

/**
 * POST /logout-others: ends every device session of the caller's user except the caller's own, in one atomic store
 * operation (each with its sid marker and revocation event, so the other devices' access tokens stop working and
 * their event streams hear `session_ended`). No `revoked_after`: this device's tokens and cookie stay valid, so the
 * answer is a bare 204 and the cookie is left alone. 401 `no_session` when the caller's session is not live (also
 * when it ends concurrently: then nothing ends).
 */
export const createLogoutOthersRoute = (ctx: BffContext): AuthRoute =>
  createEndUserSessionsRoute(ctx, {
    span: 'latchkey.logout_others',
    maxAuthAgeSeconds: ctx.options.session.logoutOthersMaxAuthAgeSeconds,
    target: (session) => ({ othersOfUser: session.userId, keepKey: session.key }),
    notice: { reason: 'logout_others', event: 'logout_others', message: 'logout on every other device' },
    fields: (session) => ({ userId: session.userId, sid: session.sid }),
    clearsCookie: false,
  });
