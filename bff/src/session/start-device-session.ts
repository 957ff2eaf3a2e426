import type { BffContext } from '../context.js';
import { sha256 } from '../crypto/hash.js';
import { randomToken } from '../crypto/random.js';
import type { SessionCookieValue } from '../crypto/session-cookie-value.js';
import { stripControls } from './display-text.js';
import type { AuthenticatedUser, IdpClaims } from '../options.js';
import { authenticationStamp } from './authentication-stamp.js';
import { describeUserAgent } from './user-agent.js';
import { newSessionKey } from '../store/session-key.js';
import { resolveGrantedClaims } from '../tokens/custom-claims.js';
import type { DeviceSessionRecord, IdpLink } from '../store/types.js';
import { readSessionCookie } from './cookie.js';
import { endSessions } from './end.js';
import { reportExpiry, reportTheft, rotateCookie } from './rotate.js';

/** What starting a session reads of the request it came in on, whichever server carried it. */
export interface SignInRequest {
  /** The `Cookie` header: the session this browser already had. */
  cookieHeader: string | undefined | null;
  userAgent: string | undefined | null;
  /** The client address, for the log. */
  ip: string | undefined;
}

export interface StartedDeviceSession {
  session: DeviceSessionRecord;
  /** The generation-0 credential for the cookie (only its hash is stored). */
  cookie: { generation: number; secret: string };
}

/**
 * Starts a device session for a user the caller has authenticated (password login, OIDC callback): a new session
 * and a new credential every time (no fixation); the session this browser already had is ended when its cookie is that
 * session's current credential, so signing in again on one device does not pile up sessions (a superseded cookie is
 * theft, as on refresh). The caller sets the cookie (`issueSessionTokens` or `sessionCookieHeaders`).
 */
export async function startDeviceSession(
  ctx: BffContext,
  req: SignInRequest,
  user: AuthenticatedUser,
  extra: { deviceName?: string; idp?: IdpLink; idToken?: IdpClaims; loginName?: string; via?: 'oidc' | 'oauth' } = {},
): Promise<StartedDeviceSession> {
  // Before anything changes: a bad grant is the application's bug (500), and must not end this browser's session.
  const claims = resolveGrantedClaims(user, ctx.options.tokens.maxClaimsBytes);
  const now = ctx.now();
  const stamp = authenticationStamp(now, user, extra.idToken);
  const previous = readSessionCookie(ctx, req.cookieHeader);
  if (previous !== null) await endPresentedSession(ctx, req, previous, user.id);

  const userAgent = stripControls(req.userAgent ?? '').slice(0, 256);
  const secret = randomToken(32);
  const session: DeviceSessionRecord = {
    key: newSessionKey(user.id),
    sid: randomToken(16),
    userId: user.id,
    userName: user.name,
    deviceName: extra.deviceName ?? describeUserAgent(userAgent),
    userAgent,
    createdAt: now,
    rotatedAt: now,
    lastActivityAt: now,
    idleExpiresAt: Math.min(now + ctx.options.session.idleTimeoutSeconds * 1000, now + ctx.options.session.absoluteTimeoutSeconds * 1000),
    absoluteExpiresAt: now + ctx.options.session.absoluteTimeoutSeconds * 1000,
    generation: 0,
    credentialHash: sha256(secret),
    previousHash: null,
    successorSealed: null,
    graceUntil: 0,
    ...stamp,
    ...(extra.loginName !== undefined ? { loginName: extra.loginName } : {}),
    ...(extra.idp ? { idp: extra.idp } : {}),
    ...(claims ? { claims } : {}),
    // Kept beside the claims (which carry it into every token) so the store can index the session under it.
    ...(typeof claims?.tenant === 'string' ? { tenant: claims.tenant } : {}),
  };
  const evicted = await ctx.store.createSession(session, {
    logTtlMs: ctx.markerTtlMs,
    maxSessionsPerUser: ctx.options.session.maxPerUser,
    now,
    markerTtlMs: ctx.markerTtlMs,
  });
  await endSessions(
    ctx,
    { alreadyEnded: evicted },
    { reason: 'cap_evicted', event: 'session_evicted', message: 'least recently active device signed out: session cap reached', fields: { by: session.sid } },
  );
  // The operators' feed (GET /activity of the admin router): the log shows these only as ended sessions.
  for (const ended of evicted) ctx.activity.record({ kind: 'session_evicted', userId: user.id, sid: ended.sid });
  ctx.metrics.logins.inc({ outcome: 'success' });
  ctx.logger.info({ event: 'login', ip: req.ip, userId: user.id, sid: session.sid, via: extra.via ?? (extra.idp ? 'oidc' : 'password') }, 'login');
  return { session, cookie: { generation: 0, secret } };
}

/**
 * The cookie this browser sent along with a successful login. Only the holder of the session's credential may end
 * it, so the store's rotation judges the cookie exactly as a refresh would: current (or previous within the grace
 * window, successor unused) ends the session; superseded is theft (the store has revoked the session; logged and
 * counted); anything else is left alone. Whose session it was does not matter: a browser switching accounts ends its
 * old session, and nobody can end another device's session with a cookie that device has moved past.
 */
async function endPresentedSession(ctx: BffContext, req: SignInRequest, cookie: SessionCookieValue, userId: string): Promise<void> {
  const { result } = await rotateCookie(ctx, cookie, 'unchanged');
  if (result.outcome === 'rotated' || result.outcome === 'replayed') {
    await endSessions(
      ctx,
      { key: cookie.key },
      { reason: 'replaced', event: 'session_replaced', message: 'login ended the session this browser had', fields: { ip: req.ip, by: userId } },
    );
  } else if (result.outcome === 'reuse_detected') {
    await reportTheft(ctx, req.ip, result.session, cookie, 'login');
  } else if (result.outcome === 'expired') {
    await reportExpiry(ctx, result.session, result.reason, 'login');
  }
}
