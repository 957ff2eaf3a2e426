import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AccountFailureLimit } from '../http/login-rate-limit.js';
import { sendTokenResponse } from '../http/token-response.js';
import { startDeviceSession } from '../session/start-device-session.js';

export const loginBodySchema = z.strictObject({
  username: z.string().trim().min(1).max(256),
  password: z.string().min(1).max(1024),
  deviceName: z.string().trim().min(1).max(100).optional(),
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
 * a wrong password is the same. Then a new device session (startDeviceSession, shared with the OIDC callback).
 */
export function createLoginHandler(ctx: BffContext, accountLimit: AccountFailureLimit): RequestHandler {
  return async (req, res) => {
    const body = res.locals.loginBody as LoginBody;
    const ip = req.ip ?? '';
    await accountLimit.check(body.username, ip);
    const user = await ctx.options.authenticate(body.username, body.password, req);
    if (user === null) {
      await accountLimit.recordFailure(body.username, ip);
      ctx.metrics.logins.inc({ outcome: 'invalid_credentials' });
      throw new LatchkeyError('invalid_credentials');
    }
    const { session, cookie } = await startDeviceSession(ctx, req, user, body.deviceName ? { deviceName: body.deviceName } : {});
    await sendTokenResponse(ctx, res, session, cookie);
  };
}
