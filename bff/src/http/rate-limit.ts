import { ipKeyGenerator } from 'express-rate-limit';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { BffContext } from '../context.js';
import { sha256 } from '../crypto/hash.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { counterFromLimiter, windowSeconds, type RateLimitCount, type RateLimitCounter } from '../store/rate-limit-counter.js';
import { StoreUnavailableError } from '../store/types.js';

export interface LimitSetting {
  limit: number;
  windowMs: number;
}

/** Who a limited request came from, for the security log (never a secret). */
export interface LimitSubject {
  ip: string;
  userId?: string;
  /** Hash of the lower-cased username a login named (see `accountId`). */
  account?: string;
  /** The resource client a request authenticated as, or claimed to. */
  clientId?: string;
  /** The login came from a known device of the account (its own counter applied, not the account's). */
  knownDevice?: boolean;
}

export interface RequestLimitOptions {
  /** Counts a refusal in the route's own metric (`latchkey_logins_total{outcome="rate_limited"}`, ...). */
  countRefusal: () => void;
  /** See RateLimitCounterOptions. */
  placement?: 'session';
  /**
   * When the counter's store cannot answer: `refuse` (503 with Retry-After, the default: a limit that passes during
   * an outage is no limit) or `pass` (logged), for a limit whose route fails on its own without the store.
   */
  whenStoreUnavailable?: 'refuse' | 'pass';
}

/** One counter family in the store's backend (shared by every instance) or, for a store without one, in this process. */
export class RequestLimit {
  private readonly counter: RateLimitCounter;

  constructor(
    private readonly ctx: BffContext,
    readonly name: string,
    readonly setting: LimitSetting,
    private readonly options: RequestLimitOptions,
  ) {
    const counterOptions = { name, points: setting.limit, windowMs: setting.windowMs, ...(options.placement ? { placement: options.placement } : {}) };
    this.counter =
      ctx.store.createRateLimitCounter?.(counterOptions) ??
      counterFromLimiter(new RateLimiterMemory({ keyPrefix: name, points: setting.limit, duration: windowSeconds(setting.windowMs) }));
  }

  /** Adds `points` (negative: gives them back). A store that cannot answer is a 503 with Retry-After. */
  async add(key: string, points: number): Promise<RateLimitCount> {
    try {
      return await this.counter.add(key, points);
    } catch (error) {
      if (error instanceof StoreUnavailableError) {
        throw new LatchkeyError('temporarily_unavailable', undefined, { cause: error, headers: { 'Retry-After': '1' } });
      }
      throw error;
    }
  }

  /** Counts one request and refuses it with 429 and Retry-After when over the limit (it still counts: no refund). */
  async take(key: string, subject: LimitSubject): Promise<void> {
    let count: RateLimitCount;
    try {
      count = await this.add(key, 1);
    } catch (error) {
      if (this.options.whenStoreUnavailable !== 'pass' || !(error instanceof LatchkeyError) || error.code !== 'temporarily_unavailable') throw error;
      this.ctx.logger.warn({ event: 'rate_limit_store_unavailable', limit: this.name, ...subject }, 'rate limit store unavailable; passing');
      return;
    }
    if (!count.allowed) throw this.refusal(count, subject);
  }

  /** The 429 for an over-limit count, logged and counted. */
  refusal(count: RateLimitCount, subject: LimitSubject): LatchkeyError {
    const retryAfter = Math.max(1, Math.ceil(count.msBeforeNext / 1000));
    this.options.countRefusal();
    this.ctx.logger.warn({ event: 'rate_limited', limit: this.name, ...subject, retryAfter }, 'rate limited');
    return new LatchkeyError('rate_limited', undefined, { headers: { 'Retry-After': String(retryAfter) } });
  }
}

/** The client IP as a limit key: IPv6 by /56 (express-rate-limit's default), so one host cannot rotate through its prefix. */
export const ipKey = (ip: string): string => ipKeyGenerator(ip);

/** A stable id for a login's account in logs and limits, without the typed text itself (it may hold a mistyped password). */
export const accountId = (username: string): string => sha256(`latchkey account\n${username.toLowerCase()}`).slice(0, 16);
