import { MemoryStore, rateLimit, type Options, type Store } from 'express-rate-limit';
import type { RequestHandler } from 'express';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';

/** Every login attempt per client IP (express-rate-limit, shared through the store's backend when it has one). */
export function createLoginIpLimit(ctx: BffContext): RequestHandler {
  const { perIp } = ctx.options.rateLimit;
  const store = ctx.store.createRateLimitStore?.('rl:ip:');
  return rateLimit({
    limit: perIp.limit,
    windowMs: perIp.windowMs,
    identifier: 'login-ip',
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    // Sets Retry-After itself; the error handler keeps it and writes the usual `{ error, message }` body.
    handler: (_req, _res, next) => {
      ctx.metrics.logins.inc({ outcome: 'rate_limited' });
      next(new LatchkeyError('rate_limited'));
    },
    // A store outage must not lock every user out: the limit passes (login itself then needs the session store).
    passOnStoreError: true,
    ...(store ? { store } : {}),
  });
}

/**
 * Failed login attempts per account. Not express-rate-limit's middleware: it counts a request before it completes
 * (`skipSuccessfulRequests` takes it back afterwards), so a few concurrent correct logins could lock an account.
 * Here only failures are counted, in the same kind of store; a victim's correct password works again once an
 * attacker stops, and one IP cannot spray many accounts unnoticed (the IP limit).
 */
export interface AccountFailureLimit {
  /** Refuses with 429 and Retry-After once the account has `limit` failures in the window. */
  check(username: string): Promise<void>;
  recordFailure(username: string): Promise<void>;
}

export function createAccountFailureLimit(ctx: BffContext): AccountFailureLimit {
  const { perAccount } = ctx.options.rateLimit;
  const store: Store = ctx.store.createRateLimitStore?.('rl:acct:') ?? new MemoryStore();
  void store.init?.({ windowMs: perAccount.windowMs } as Options);
  const key = (username: string) => `acct:${username.toLowerCase()}`;
  // A store outage must not lock every user out: the limit passes, and the failure is logged.
  const logged = (error: unknown) =>
    ctx.logger.warn({ event: 'rate_limit_store_error', err: { message: (error as Error).message } }, 'login limit store unavailable');
  return {
    async check(username) {
      const info = await Promise.resolve(store.get?.(key(username))).catch(logged);
      // rate-limit-redis reports a missing key as NaN hits (ioredis answers nil as null): treat it as none.
      if (!info || !(info.totalHits >= perAccount.limit)) return;
      const retryAfter = Math.max(1, Math.ceil(((info.resetTime?.getTime() ?? Date.now() + perAccount.windowMs) - Date.now()) / 1000));
      ctx.metrics.logins.inc({ outcome: 'rate_limited' });
      throw new LatchkeyError('rate_limited', undefined, { headers: { 'Retry-After': String(retryAfter) } });
    },
    async recordFailure(username) {
      await Promise.resolve(store.increment(key(username))).catch(logged);
    },
  };
}
