import type { RequestHandler } from 'express';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { requireSession } from '../http/session-auth.js';
import { clearSessionCookie } from '../http/session-cookie.js';
import { beginRpLogout } from '../oidc/end-session-url.js';
import { tracedRoute } from '../observability/tracing-route.js';
import type { LogoutRedirectResponse } from '@latchkey/shared';

/**
 * POST /logout: ends this device's session (its access tokens stop working at once). Idempotent: always 204.
 * Only the session's current credential (or the previous one, within grace) ends it: a superseded cookie, a copy
 * that an attacker kept, is not the device signing out.
 * A session started by the identity provider, with `oidc.postLogoutRedirectUri` set and an IdP that offers
 * `end_session_endpoint`, answers 200 `{ redirectTo }` instead (RP-initiated logout, so the user is signed out there
 * too): GET /oidc/logout, which sends the browser on to the IdP with the ID token hint added server-side.
 */
export function createLogoutHandler(ctx: BffContext): RequestHandler {
  return tracedRoute(ctx, 'latchkey.logout', async (req, res, trace) => {
    const current = await requireSession(ctx, req).catch((error: unknown) => {
      if (error instanceof LatchkeyError && error.code === 'no_session') return null;
      throw error;
    });
    let redirectTo: string | null = null;
    if (current !== null) {
      const ended = await ctx.store.endSession(current.session.key, 'logout', ctx.now(), ctx.markerTtlMs);
      if (ended !== null) {
        trace.session(ended);
        ctx.metrics.logouts.inc({ scope: 'device' });
        ctx.logger.info({ event: 'logout', userId: ended.userId, sid: ended.sid }, 'logout');
        redirectTo = await beginRpLogout(ctx, req, res, ended);
      }
    }
    clearSessionCookie(res, ctx.options);
    // Idempotent: answering 204 without a live session is an outcome, not an error.
    trace.outcome(redirectTo !== null ? 'redirect' : current === null ? 'no_session' : 'ok');
    if (redirectTo === null) {
      res.status(204).end();
      return;
    }
    const body: LogoutRedirectResponse = { redirectTo };
    res.status(200).json(body);
  });
}
