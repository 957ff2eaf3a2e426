import type { SessionEndReason } from '../store/types.js';
import type { DeviceSessionRecord } from '../store/types.js';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { readSessionCookie, sessionCookieHeaders } from './cookie.js';
import { resolveSession } from './resolve.js';
import { replayedSuccessor, reportTheft, rotateCookie } from './rotate.js';

/** The 401 code the refresh route answers for each way a session ended. */
export const END_REASON_CODE = {
  logout: 'no_session',
  session_revoked: 'session_revoked',
  reuse_detected: 'reuse_detected',
  session_expired: 'session_expired',
} as const satisfies Record<SessionEndReason, string>;

export interface AuthenticatedSession {
  session: DeviceSessionRecord;
  /** `Set-Cookie` lines of a rotated credential (sliding rotation); empty when the cookie stays as it is. */
  setCookies: string[];
}

export interface AuthenticateOptions {
  /** The client address, for the theft log line. */
  ip: string | undefined;
  /** Names the caller in logs (`proxy`, `session`). */
  route: string;
  /**
   * Rotate the credential when its generation is at least this old (sliding rotation for clients that never call
   * `/refresh`); null: never rotate here.
   */
  rotateAfterMs: number | null;
}

/**
 * Authenticates a request by its session cookie, for routes the browser calls instead of `/refresh` (proxy mode's
 * forwarded calls, `GET /session`):
 * - the current credential, or the previous one within the grace window: the session, one store read;
 * - the current credential once its generation is older than `rotateAfterMs`: rotated in the store (atomic; concurrent
 *   calls that present the same cookie get the same successor as a replay), and the new cookie returned to be set on
 *   this response, so the credential keeps moving and the idle timeout keeps sliding without a client refresh;
 * - anything else is answered as the refresh route answers it (a superseded credential is theft: the store ends the
 *   session), by throwing the session-ending LatchkeyError (`no_session`, `session_expired`, `session_revoked`,
 *   `reuse_detected`). The caller clears the cookie.
 */
export async function authenticateSession(ctx: BffContext, cookieHeader: string | undefined, options: AuthenticateOptions): Promise<AuthenticatedSession> {
  const resolved = await resolveSession(ctx, cookieHeader);
  if (resolved !== null) {
    const { session, cookie } = resolved;
    const due = options.rotateAfterMs !== null && cookie.generation === session.generation && ctx.now() - session.lastActiveAt >= options.rotateAfterMs;
    if (!due) return { session, setCookies: [] };
  }
  const cookie = resolved?.cookie ?? readSessionCookie(ctx, cookieHeader);
  if (cookie === null) throw new LatchkeyError('no_session');
  // Rejected by the read-only check, or due for rotation: the store's rotation decides, as for a refresh.
  const { result, nextSecret } = await rotateCookie(ctx, cookie);
  switch (result.outcome) {
    case 'rotated':
      ctx.metrics.refreshes.inc({ outcome: 'rotated' });
      return { session: result.session, setCookies: sessionCookieHeaders(ctx, result.session, { generation: result.session.generation, secret: nextSecret }) };
    case 'replayed': {
      const successor = replayedSuccessor(result.sealed, cookie);
      if (successor === null) break;
      ctx.metrics.refreshes.inc({ outcome: 'replayed' });
      return { session: result.session, setCookies: sessionCookieHeaders(ctx, result.session, { generation: result.session.generation, secret: successor }) };
    }
    case 'reuse_detected':
      ctx.metrics.refreshes.inc({ outcome: 'reuse_detected' });
      reportTheft(ctx, options.ip, result.session, cookie, options.route);
      throw new LatchkeyError('reuse_detected');
    case 'ended':
      throw new LatchkeyError(result.reason === null ? 'no_session' : END_REASON_CODE[result.reason]);
    case 'mismatch':
      break;
  }
  throw new LatchkeyError('no_session');
}
