import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { BffContext } from '../context.js';
import { sha256 } from '../crypto/hash.js';
import { randomToken } from '../crypto/random.js';
import { newSessionKey } from '../store/session-key.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AccountFailureLimit } from '../http/login-rate-limit.js';
import { readSessionCookie } from '../http/session-auth.js';
import { sendTokenResponse } from '../http/token-response.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { describeUserAgent } from './user-agent.js';

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
 * a wrong password is the same. A new device session and a new cookie every time (no fixation); a session this
 * browser already had is ended, so re-login on one device does not pile up sessions.
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
    const now = ctx.now();
    const previous = readSessionCookie(ctx, req);
    if (previous !== null) await ctx.store.endSession(previous.key, 'logout', now, ctx.markerTtlMs);

    const userAgent = (req.get('user-agent') ?? '').slice(0, 256);
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
    const evicted = await ctx.store.createSession(session, {
      maxSessionsPerUser: ctx.options.maxSessionsPerUser,
      now,
      markerTtlMs: ctx.markerTtlMs,
    });
    for (const ended of evicted) {
      ctx.metrics.logouts.inc({ scope: 'evicted' });
      ctx.logger.info({ event: 'session_evicted', userId: user.id, sid: ended.sid, by: session.sid }, 'oldest device signed out: session cap reached');
    }
    ctx.metrics.logins.inc({ outcome: 'success' });
    ctx.logger.info({ event: 'login', userId: user.id, sid: session.sid }, 'login');
    await sendTokenResponse(ctx, res, session, { generation: 0, secret });
  };
}
