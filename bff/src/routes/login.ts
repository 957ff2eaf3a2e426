import { z } from 'zod';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { stripControls } from '../session/display-text.js';
import type { AuthRequest, AuthRoute, Reply } from '../http/exchange.js';
import { deviceCookieHeader, knownDevice } from '../http/known-device.js';
import type { AccountFailureLimit, LoginIpLimit } from '../http/login-rate-limit.js';
import { accountId } from '../http/rate-limit.js';
import { tracedRoute } from '../observability/tracing-route.js';
import type { Authenticate } from '../options.js';
import { startDeviceSession } from '../session/start-device-session.js';
import { issueSessionTokens } from '../session/token-response.js';

export const loginBodySchema = z.strictObject({
  username: z.string().trim().min(1).max(256),
  password: z.string().min(1).max(1024),
  // Controls and invisible format characters (bidi overrides, zero-width) are dropped before the length check.
  deviceName: z.string().max(1000).transform(stripControls).pipe(z.string().trim().min(1).max(100)).optional(),
});

export type LoginBody = z.infer<typeof loginBodySchema>;

/** Validates the body before anything else looks at it. */
export function validateLoginBody(body: unknown): LoginBody {
  const parsed = loginBodySchema.safeParse(body);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || 'body'))].join(', ');
    throw new LatchkeyError('invalid_request', `Invalid login request (${fields}).`);
  }
  return parsed.data;
}

/**
 * POST /login. Counted per client IP first, then the body is validated; the application's `authenticate` callback
 * checks the credentials; the answer for an unknown user and a wrong password is the same. A failure is reserved on
 * the account (or on the known device, see known-device.ts) before the password is checked (see login-rate-limit.ts)
 * and given back when it was right; a successful login (re)sets the device cookie. A new device session and a new
 * cookie every time (no fixation) by startDeviceSession, shared with the OIDC callback.
 */
export function createLoginRoute(ctx: BffContext, ipLimit: LoginIpLimit, accountLimit: AccountFailureLimit): AuthRoute {
  const traced = tracedRoute(ctx, 'latchkey.login', async (req: AuthRequest, reply: Reply, trace) => {
    const body = req.body as LoginBody;
    const ip = req.ip ?? '';
    const device = knownDevice(req.get('cookie'), ctx.options.cookie, ctx.options.secrets, body.username);
    const reservation = await accountLimit.reserve(body.username, ip, device);
    let user: Awaited<ReturnType<Authenticate>>;
    try {
      user = await ctx.options.authenticate(body.username, body.password, req.native as Parameters<Authenticate>[2]);
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
    await reservation
      .refund()
      .catch((error: unknown) =>
        ctx.logger.warn({ event: 'rate_limit_refund_failed', ip, userId: user.id, err: { message: (error as Error).message } }, 'login limit refund failed'),
      );
    const signIn = { cookieHeader: req.get('cookie'), userAgent: req.get('user-agent'), ip: req.ip };
    const { session, cookie } = await startDeviceSession(ctx, signIn, user, {
      loginName: body.username,
      ...(body.deviceName ? { deviceName: body.deviceName } : {}),
    });
    trace.session(session);
    trace.outcome('ok');
    const issued = await issueSessionTokens(ctx, session, cookie);
    // A known device from now on (a fresh nonce: failures counted on an older cookie stay with it). After the session
    // cookie, so that stays the first Set-Cookie line.
    const deviceCookie = deviceCookieHeader(ctx.options.cookie, ctx.options.secrets, body.username);
    return reply
      .setCookie(...issued.setCookies)
      .setCookie(deviceCookie)
      .send(200, issued.body);
  });
  // The per-IP count and the body check come before the span, as their middleware did.
  return async (req, reply) => {
    await ipLimit(req.ip);
    req.body = validateLoginBody(req.body);
    return traced(req, reply);
  };
}
