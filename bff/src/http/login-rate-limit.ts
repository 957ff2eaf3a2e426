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
 * Here only failures are counted, in the same kind of store, twice: per account and client IP (a low limit: one
 * guesser is stopped, and the owner signing in from elsewhere is not locked out by them), and per account across all
 * IPs (a high ceiling against guessing from many addresses). A correct password works again once the guessing stops.
 */
export interface AccountFailureLimit {
  /** Refuses with 429 and Retry-After once the account has too many failures in the window, from this IP or in all. */
  check(username: string, ip: string): Promise<void>;
  recordFailure(username: string, ip: string): Promise<void>;
}

interface FailureCounter {
  limit: number;
  windowMs: number;
  store: Store;
}

export function createAccountFailureLimit(ctx: BffContext): AccountFailureLimit {
  const { perAccount, perAccountAndIp } = ctx.options.rateLimit;
  const counter = (prefix: string, limit: { limit: number; windowMs: number }): FailureCounter => {
    const store: Store = ctx.store.createRateLimitStore?.(prefix) ?? new MemoryStore();
    void store.init?.({ windowMs: limit.windowMs } as Options);
    return { ...limit, store };
  };
  const account = counter('rl:acct:', perAccount);
  const accountAndIp = counter('rl:acctip:', perAccountAndIp);
  const keys = (username: string, ip: string): Array<[FailureCounter, string]> => [
    [accountAndIp, `${username.toLowerCase()}\n${ip}`],
    [account, username.toLowerCase()],
  ];
  // A store outage must not lock every user out: the limit passes, and the failure is logged.
  const logged = (error: unknown) =>
    ctx.logger.warn({ event: 'rate_limit_store_error', err: { message: (error as Error).message } }, 'login limit store unavailable');
  return {
    async check(username, ip) {
      for (const [{ store, limit, windowMs }, key] of keys(username, ip)) {
        const info = await Promise.resolve(store.get?.(key)).catch(logged);
        // rate-limit-redis reports a missing key as NaN hits (ioredis answers nil as null): treat it as none.
        if (!info || !(info.totalHits >= limit)) continue;
        const retryAfter = Math.max(1, Math.ceil(((info.resetTime?.getTime() ?? Date.now() + windowMs) - Date.now()) / 1000));
        ctx.metrics.logins.inc({ outcome: 'rate_limited' });
        throw new LatchkeyError('rate_limited', undefined, { headers: { 'Retry-After': String(retryAfter) } });
      }
    },
    async recordFailure(username, ip) {
      await Promise.all(keys(username, ip).map(([{ store }, key]) => Promise.resolve(store.increment(key)).catch(logged)));
    },
  };
}
