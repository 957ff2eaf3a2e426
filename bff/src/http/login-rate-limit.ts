import { rateLimit, type Options } from 'express-rate-limit';
import type { RequestHandler } from 'express';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { LoginBody } from '../routes/login.js';

function limiter(ctx: BffContext, prefix: string, extra: Partial<Options>): RequestHandler {
  const store = ctx.store.createRateLimitStore?.(prefix);
  return rateLimit({
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // Sets Retry-After itself; the error handler keeps it and writes the usual `{ error, message }` body.
    handler: (_req, _res, next) => {
      ctx.metrics.logins.inc({ outcome: 'rate_limited' });
      next(new LatchkeyError('rate_limited'));
    },
    // A store outage must not lock every user out, nor let a flood through unnoticed: pass, and count it.
    passOnStoreError: true,
    ...(store ? { store } : {}),
    ...extra,
  });
}

/**
 * Login limits: every attempt per client IP, and failed attempts per account (so a victim's own successful login
 * is not blocked by an attacker's failures once they stop, and one IP cannot spray many accounts unnoticed).
 */
export function createLoginRateLimits(ctx: BffContext): RequestHandler[] {
  const { perIp, perAccount } = ctx.options.rateLimit;
  return [
    limiter(ctx, 'rl:ip:', { limit: perIp.limit, windowMs: perIp.windowMs, identifier: 'login-ip' }),
    limiter(ctx, 'rl:acct:', {
      limit: perAccount.limit,
      windowMs: perAccount.windowMs,
      identifier: 'login-account',
      skipSuccessfulRequests: true,
      keyGenerator: (_req, res) => `acct:${(res.locals.loginBody as LoginBody).username.toLowerCase()}`,
    }),
  ];
}
