import { z } from 'zod';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRequest, AuthRoute, Reply } from '../http/exchange.js';
import { knownDevice } from '../http/known-device.js';
import type { AccountFailureLimit, LoginIpLimit } from '../http/login-rate-limit.js';
import { tracedRoute } from '../observability/tracing-route.js';
import type { Authenticate } from '../options.js';
import { authenticationStamp } from '../session/authentication-stamp.js';
import { requireSession } from '../session/resolve.js';
import { replayedSuccessor, reportTheft, rotateCookie } from '../session/rotate.js';
import { issueSessionTokens } from '../session/token-response.js';

const bodySchema = z.strictObject({ password: z.string().min(1).max(1024) });

/**
 * POST /reauthenticate `{ password }` (cookie, X-CSRF, Origin): step-up (RFC 9470) without a new session. The
 * password is checked by `authenticate` for the username this session signed in with, and must name the same user;
 * then the session's `auth_time` (and `acr`/`amr`) are re-stamped on the same device session (same session id,
 * same claims), its credential rotated, and the answer is a login's: a token with the fresh `auth_time` (or
 * `{ user, session }` without browser tokens). Counted like a login (per IP, then failures per account or known
 * device), so it is no way around the login limits. A session the IdP started re-authenticates there
 * (`GET /oidc/login?reauth=1`): 400 `invalid_request` here.
 */
export function createReauthenticateRoute(ctx: BffContext, ipLimit: LoginIpLimit, accountLimit: AccountFailureLimit): AuthRoute {
  const traced = tracedRoute(ctx, 'latchkey.reauthenticate', async (req: AuthRequest, reply: Reply, trace) => {
    const { password } = req.body as z.infer<typeof bodySchema>;
    const ip = req.ip ?? '';
    const { session, cookie } = await requireSession(ctx, req.get('cookie'));
    trace.session(session);
    const username = session.loginName;
    if (username === undefined) {
      // An IdP session re-authenticates there; a password session stored before the username was kept signs in again.
      throw new LatchkeyError(
        'invalid_request',
        session.idp ? 'This session signed in at the identity provider: re-authenticate there.' : 'This session cannot re-authenticate: sign in again.',
      );
    }
    const device = knownDevice(req.get('cookie'), ctx.options.cookie, ctx.options.secrets, username);
    const reservation = await accountLimit.reserve(username, ip, device);
    let user: Awaited<ReturnType<Authenticate>>;
    try {
      user = await ctx.options.authenticate(username, password, req.native as Parameters<Authenticate>[2]);
    } catch (error) {
      reservation.keep();
      throw error;
    }
    // The same user only: a password of another account proves nothing about this session's user.
    if (user === null || user.id !== session.userId) {
      reservation.keep();
      ctx.logger.warn({ event: 'reauthentication_failed', ip, userId: session.userId, sid: session.sid }, 're-authentication failed');
      throw new LatchkeyError('invalid_credentials', 'Wrong password.');
    }
    await reservation.refund().catch(() => undefined);
    const stamp = authenticationStamp(ctx.now(), user);
    const restamped = await ctx.store.restampSession(session.userId, session.sid, stamp, ctx.now());
    if (restamped === null) throw new LatchkeyError('no_session');
    // A fresh credential for the stronger session (as a login would set one); the record comes back re-stamped.
    // Re-authenticating is activity.
    const { result, nextSecret } = await rotateCookie(ctx, cookie, ctx.now());
    let next: { generation: number; secret: string } | null = null;
    if (result.outcome === 'rotated') next = { generation: result.session.generation, secret: nextSecret };
    else if (result.outcome === 'replayed') {
      const successor = replayedSuccessor(result.sealed, cookie);
      if (successor !== null) next = { generation: result.session.generation, secret: successor };
    } else if (result.outcome === 'reuse_detected') {
      await reportTheft(ctx, ip, result.session, cookie, 'reauthenticate');
      throw new LatchkeyError('reuse_detected');
    }
    if (next === null || !('session' in result)) throw new LatchkeyError('no_session');
    ctx.logger.info({ event: 'reauthenticated', ip, userId: session.userId, sid: session.sid, via: 'password' }, 're-authenticated');
    trace.outcome('ok');
    const issued = await issueSessionTokens(ctx, result.session, next);
    return reply.setCookie(...issued.setCookies).send(200, issued.body);
  });
  return async (req, reply) => {
    await ipLimit(req.ip);
    const parsed = bodySchema.safeParse(req.body);
    if (!parsed.success) throw new LatchkeyError('invalid_request', 'Invalid re-authentication request (password).');
    req.body = parsed.data;
    return traced(req, reply);
  };
}
