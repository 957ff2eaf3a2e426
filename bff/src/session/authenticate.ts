import type { DeviceSessionRecord } from '../store/types.js';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { readSessionCookie, sessionCookieHeaders } from './cookie.js';
import { endReasonCode, endSessions } from './end.js';
import { resolveSession } from './resolve.js';
import { replayedSuccessor, reportExpiry, reportTheft, rotateCookie } from './rotate.js';
import { withValidatedClaims } from './validate.js';

export interface AuthenticatedSession {
  /** The live session, with the claims `validateSession` answered for it (what its tokens carry). */
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
  /**
   * Whether this call is real use of the session (a proxied call, made by the page's code) or not (`GET /session`,
   * which a page asks on its own). Activity is recorded with the rotation: a call is due for one as soon as the
   * recorded activity is `rotateAfterMs` old, so the idle timeout sees proxied use to within that.
   */
  activity: boolean;
}

/**
 * Authenticates a request by its session cookie, for routes the browser calls instead of `/refresh` (proxy mode's
 * forwarded calls, `GET /session`):
 * - the current credential, or the previous one within the grace window: the session, one store read;
 * - `validateSession` (when set, cached per session): refused ends the session (`session_revoked`); a failing hook is
 *   503, before anything rotates;
 * - the current credential once its generation (or, for real use, the recorded activity) is older than
 *   `rotateAfterMs`: rotated in the store (atomic; concurrent calls that present the same cookie get the same successor
 *   as a replay), and the new cookie returned to be set on this response, so the credential keeps moving and the idle
 *   timeout follows the use without a client refresh;
 * - anything else is answered as the refresh route answers it (a superseded credential is theft: the store ends the
 *   session; an expired one ends as `session_expired`), by throwing the session-ending LatchkeyError (`no_session`,
 *   `session_expired`, `session_revoked`, `reuse_detected`). The caller clears the cookie.
 */
export async function authenticateSession(ctx: BffContext, cookieHeader: string | undefined, options: AuthenticateOptions): Promise<AuthenticatedSession> {
  const resolved = await resolveSession(ctx, cookieHeader);
  let validated: ((session: DeviceSessionRecord) => DeviceSessionRecord) | undefined;
  if (resolved !== null) {
    const { session, cookie } = resolved;
    validated = await validateOrEnd(ctx, session);
    const since = options.activity ? session.lastActivityAt : session.rotatedAt;
    const due = options.rotateAfterMs !== null && cookie.generation === session.generation && ctx.now() - since >= options.rotateAfterMs;
    if (!due) return { session: validated(session), setCookies: [] };
  }
  const cookie = resolved?.cookie ?? readSessionCookie(ctx, cookieHeader);
  if (cookie === null) throw new LatchkeyError('no_session');
  // Rejected by the read-only check, or due for rotation: the store's rotation decides, as for a refresh.
  const { result, nextSecret } = await rotateCookie(ctx, cookie, options.activity ? ctx.now() : 'unchanged');
  switch (result.outcome) {
    case 'rotated':
    case 'replayed': {
      const secret = result.outcome === 'rotated' ? nextSecret : replayedSuccessor(result.sealed, cookie);
      if (secret === null) break;
      // A session the read-only check did not see (its cookie was just rotated elsewhere) is validated now.
      validated ??= await validateOrEnd(ctx, result.session);
      ctx.metrics.refreshes.inc({ outcome: result.outcome });
      const setCookies = sessionCookieHeaders(ctx, result.session, { generation: result.session.generation, secret });
      return { session: validated(result.session), setCookies };
    }
    case 'reuse_detected':
      ctx.metrics.refreshes.inc({ outcome: 'reuse_detected' });
      await reportTheft(ctx, options.ip, result.session, cookie, options.route);
      throw new LatchkeyError('reuse_detected');
    case 'expired':
      await reportExpiry(ctx, result.session, result.reason, options.route);
      throw new LatchkeyError('session_expired');
    case 'ended':
      throw new LatchkeyError(endReasonCode(result.reason));
    case 'mismatch':
      break;
  }
  throw new LatchkeyError('no_session');
}

/**
 * `validateSession` for a live session: a function giving the session with the claims its tokens carry. Refused: the
 * session ends (its revocation event, counted, logged) and `session_revoked` is thrown.
 */
async function validateOrEnd(ctx: BffContext, session: DeviceSessionRecord): Promise<(session: DeviceSessionRecord) => DeviceSessionRecord> {
  if (!ctx.validator) return (s) => s;
  const validation = await ctx.validator.validate(session);
  if (!validation.refused) return (s) => withValidatedClaims(s, validation);
  await endSessions(
    ctx,
    { key: session.key },
    { reason: 'validate_refused', event: 'session_validation_refused', message: 'validateSession refused the session; device session ended' },
  );
  throw new LatchkeyError('session_revoked');
}
