import type { LogoutRedirectResponse } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRequest, AuthRoute, Reply } from '../http/exchange.js';
import { beginRpLogout } from '../oidc/end-session-url.js';
import { tracedRoute } from '../observability/tracing-route.js';
import { clearedSessionCookieHeaders } from '../session/cookie.js';
import { endSessions } from '../session/end.js';
import { requireSession } from '../session/resolve.js';

/**
 * POST /logout: ends this device's session (its access tokens stop working at once). Idempotent: always 204.
 * Only the session's current credential (or the previous one, within grace) ends it: a superseded cookie, a copy
 * that an attacker kept, is not the device signing out.
 * A session started by the identity provider, with `oidc.postLogoutRedirectUri` set and an IdP that offers
 * `end_session_endpoint`, answers 200 `{ redirectTo }` instead (RP-initiated logout, so the user is signed out there
 * too): GET /oidc/logout, which sends the browser on to the IdP with the ID token hint added server-side.
 */
export function createLogoutRoute(ctx: BffContext): AuthRoute {
  return tracedRoute(ctx, 'latchkey.logout', async (req: AuthRequest, reply: Reply, trace) => {
    const current = await requireSession(ctx, req.get('cookie')).catch((error: unknown) => {
      if (error instanceof LatchkeyError && error.code === 'no_session') return null;
      throw error;
    });
    let redirectTo: string | null = null;
    if (current !== null) {
      const [ended] = await endSessions(ctx, { key: current.session.key }, { reason: 'logout', event: 'logout', message: 'logout' });
      if (ended !== undefined) {
        trace.session(ended);
        redirectTo = await beginRpLogout(ctx, req.baseUrl, (line) => reply.setCookie(line), ended);
      }
    }
    reply.setCookie(...clearedSessionCookieHeaders(ctx));
    // Idempotent: answering 204 without a live session is an outcome, not an error.
    trace.outcome(redirectTo !== null ? 'redirect' : current === null ? 'no_session' : 'ok');
    if (redirectTo === null) return reply.send(204);
    const body: LogoutRedirectResponse = { redirectTo };
    return reply.send(200, body);
  });
}
