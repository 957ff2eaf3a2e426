import type { Request, RequestHandler } from 'express';
import { z } from 'zod';
import type { BffContext } from '../context.js';
import { sha256 } from '../crypto/hash.js';
import { randomToken } from '../crypto/random.js';
import { newSessionKey } from '../store/session-key.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { SessionCookieValue } from '../crypto/session-cookie-value.js';
import { stripControls } from '../http/display-text.js';
import type { AccountFailureLimit } from '../http/login-rate-limit.js';
import { accountId } from '../http/rate-limit.js';
import { reportTheft, rotateCookie } from '../http/rotate-cookie.js';
import { readSessionCookie } from '../http/session-auth.js';
import { sendTokenResponse } from '../http/token-response.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { resolveGrantedClaims } from '../tokens/custom-claims.js';
import { describeUserAgent } from './user-agent.js';

export const loginBodySchema = z.strictObject({
  username: z.string().trim().min(1).max(256),
  password: z.string().min(1).max(1024),
  // Controls and invisible format characters (bidi overrides, zero-width) are dropped before the length check.
  deviceName: z.string().max(1000).transform(stripControls).pipe(z.string().trim().min(1).max(100)).optional(),
});

export type LoginBody = z.infer<typeof loginBodySchema>;

/** Validates the body before anything else looks at it. */
export const validateLoginBody: RequestHandler = (req, res, next) => {
  const parsed = loginBodySchema.safeParse(req.body);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || 'body'))].join(', ');
    return next(new LatchkeyError('invalid_request', `Invalid login request (${fields}).`));
  }
  res.locals.loginBody = parsed.data;
  next();
};

/**
 * POST /login. The application's `authenticate` callback checks the credentials; the answer for an unknown user and
 * a wrong password is the same. A failure is reserved on the account before the password is checked (see
 * login-rate-limit.ts) and given back when it was right. A new device session and a new cookie every time (no
 * fixation); the session this browser already had is ended when its cookie is that session's current credential, so
 * re-login on one device does not pile up sessions (a superseded cookie is theft, as on refresh).
 */
export function createLoginHandler(ctx: BffContext, accountLimit: AccountFailureLimit): RequestHandler {
  return async (req, res) => {
    const body = res.locals.loginBody as LoginBody;
    const ip = req.ip ?? '';
    const reservation = await accountLimit.reserve(body.username, ip);
    let user: Awaited<ReturnType<typeof ctx.options.authenticate>>;
    try {
      user = await ctx.options.authenticate(body.username, body.password, req);
    } catch (error) {
      reservation.keep();
      throw error;
    }
    if (user === null) {
      reservation.keep();
      ctx.metrics.logins.inc({ outcome: 'invalid_credentials' });
      ctx.logger.warn({ event: 'login_failed', ip, account: accountId(body.username) }, 'login failed');
      throw new LatchkeyError('invalid_credentials');
    }
    // Before anything changes: a bad grant is the application's bug (500), and must not end this browser's session.
    const claims = resolveGrantedClaims(user, ctx.options.maxClaimsBytes);
    await reservation.refund().catch((error: unknown) =>
      ctx.logger.warn({ event: 'rate_limit_refund_failed', ip, userId: user.id, err: { message: (error as Error).message } }, 'login limit refund failed'),
    );
    const now = ctx.now();
    const previous = readSessionCookie(ctx, req);
    if (previous !== null) await endPresentedSession(ctx, req, previous, user.id);

    const userAgent = stripControls(req.get('user-agent') ?? '').slice(0, 256);
    const secret = randomToken(32);
    const session: DeviceSessionRecord = {
      key: newSessionKey(user.id),
      sid: randomToken(16),
      userId: user.id,
      userName: user.name,
      deviceName: body.deviceName ?? describeUserAgent(userAgent),
      userAgent,
      createdAt: now,
      lastActiveAt: now,
      idleExpiresAt: Math.min(now + ctx.options.idleTimeoutSeconds * 1000, now + ctx.options.absoluteTimeoutSeconds * 1000),
      absoluteExpiresAt: now + ctx.options.absoluteTimeoutSeconds * 1000,
      generation: 0,
      credentialHash: sha256(secret),
      previousHash: null,
      successorSealed: null,
      graceUntil: 0,
    };
    if (claims !== undefined) session.claims = claims;
    await ctx.store.createSession(session);
    ctx.metrics.logins.inc({ outcome: 'success' });
    ctx.logger.info({ event: 'login', ip, userId: user.id, sid: session.sid }, 'login');
    await sendTokenResponse(ctx, res, session, { generation: 0, secret });
  };
}

/**
 * The cookie this browser sent along with a successful login. Only the holder of the session's credential may end
 * it, so the store's rotation judges the cookie exactly as a refresh would: current (or previous within the grace
 * window, successor unused) ends the session; superseded is theft (the store has revoked the session; logged and
 * counted); anything else is left alone. Whose session it was does not matter: a browser switching accounts ends its
 * old session, and nobody can end another device's session with a cookie that device has moved past.
 */
async function endPresentedSession(ctx: BffContext, req: Request, cookie: SessionCookieValue, userId: string): Promise<void> {
  const { result } = await rotateCookie(ctx, cookie);
  if (result.outcome === 'rotated' || result.outcome === 'replayed') {
    const ended = await ctx.store.endSession(cookie.key, 'logout', ctx.now(), ctx.markerTtlMs);
    if (ended !== null) {
      ctx.metrics.logouts.inc({ scope: 'device' });
      ctx.logger.info({ event: 'session_replaced', ip: req.ip, userId: ended.userId, sid: ended.sid, by: userId }, 'login ended the session this browser had');
    }
  } else if (result.outcome === 'reuse_detected') {
    reportTheft(ctx, req, result.session, cookie, 'login');
  }
}
