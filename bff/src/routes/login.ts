import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { stripControls } from '../http/display-text.js';
import type { AccountFailureLimit } from '../http/login-rate-limit.js';
import { accountId } from '../http/rate-limit.js';
import { tracedRoute } from '../observability/tracing-route.js';
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
 * fixation) by startDeviceSession, shared with the OIDC callback.
 */
export function createLoginHandler(ctx: BffContext, accountLimit: AccountFailureLimit): RequestHandler {
  return tracedRoute(ctx, 'latchkey.login', async (req, res, trace) => {
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
    await reservation
      .refund()
      .catch((error: unknown) =>
        ctx.logger.warn({ event: 'rate_limit_refund_failed', ip, userId: user.id, err: { message: (error as Error).message } }, 'login limit refund failed'),
      );
    const { session, cookie } = await startDeviceSession(
      ctx,
      { cookieHeader: req.headers.cookie, userAgent: req.get('user-agent'), ip: req.ip },
      user,
      body.deviceName ? { deviceName: body.deviceName } : {},
    );
    trace.session(session);
    trace.outcome('ok');
    const issued = await issueSessionTokens(ctx, session, cookie);
    res.append('Set-Cookie', issued.setCookie);
    res.status(200).json(issued.body);
  });
}
