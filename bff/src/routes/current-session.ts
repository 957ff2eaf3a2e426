import type { CurrentSessionResponse } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRoute } from '../http/exchange.js';
import { authenticateSession } from '../session/authenticate.js';
import { clearedSessionCookieHeaders } from '../session/cookie.js';
import type { DeviceSessionRecord } from '../store/types.js';

/** Whether the local revocation view knows the session ended (the guard's view). */
export type SessionRevocationCheck = (session: DeviceSessionRecord) => boolean;

/**
 * GET /session: the signed-in user and device session, and no token (proxy mode's source of truth). Answers as the
 * refresh route does when there is no live session: 401 `no_session`, `session_expired`, `session_revoked` or
 * `reuse_detected`, with the cookie cleared. Slides the credential on the proxy's schedule (`session.proxyRotationSeconds`),
 * so a proxy-mode page that only reads its session still keeps it alive.
 */
export function createCurrentSessionRoute(ctx: BffContext, isRevoked: SessionRevocationCheck): AuthRoute {
  return async (req, reply) => {
    try {
      const { session, setCookies } = await authenticateSession(ctx, req.get('cookie'), {
        ip: req.ip,
        route: 'session',
        rotateAfterMs: ctx.options.session.proxyRotationSeconds * 1000,
        // A page asks for its session on its own (start-up, a tab coming back): not the user's activity.
        activity: false,
      });
      if (isRevoked(session)) throw new LatchkeyError('session_revoked');
      const body: CurrentSessionResponse = {
        user: { id: session.userId, name: session.userName },
        session: { id: session.sid, deviceName: session.deviceName, createdAt: session.createdAt },
      };
      return reply.setCookie(...setCookies).send(200, body);
    } catch (error) {
      if (error instanceof LatchkeyError && error.status === 401) reply.setCookie(...clearedSessionCookieHeaders(ctx));
      throw error;
    }
  };
}
