import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

/** One fixed-window counter family (rate-limiter-flexible), e.g. failed logins per account. */
export interface RateLimitCounterOptions {
  /** Part of every key, so counters of different families never meet. */
  name: string;
  /** The most a key may count in one window. */
  points: number;
  /** Window length; rate-limiter-flexible counts whole seconds, so it is rounded up to one. */
  windowMs: number;
  /**
   * `session`: the keys are private session keys, and each counter lives with its session (on a Redis Cluster, in
   * the session's slot), so it is unavailable only when the session itself is. Default: anywhere.
   */
  placement?: 'session';
}

export interface RateLimitCount {
  /** The count after this change is within `points`. */
  allowed: boolean;
  consumed: number;
  /** Until the window (and the key) expires. */
  msBeforeNext: number;
}

/**
 * Atomic counters shared by every instance that uses the same backend. `add(key, n)` adds n (a negative n gives
 * points back) and answers the new count in one step, so concurrent callers can never all see room under the limit.
 * Keys are any strings (usernames, IPs): a store must not put them into its key space as they are.
 * Rejects with StoreUnavailableError when the backend cannot answer.
 */
export interface RateLimitCounter {
  add(key: string, points: number): Promise<RateLimitCount>;
}

/** The window in whole seconds: rate-limiter-flexible's Redis limiter sets no expiry on a window under one second. */
export const windowSeconds = (windowMs: number): number => Math.max(1, Math.ceil(windowMs / 1000));

/** Adapts a rate-limiter-flexible limiter: an over-limit count is an answer, anything else thrown is a store failure. */
export function counterFromLimiter(limiter: RateLimiterAbstract): RateLimitCounter {
  const count = (allowed: boolean, res: RateLimiterRes): RateLimitCount => ({
    allowed,
    consumed: res.consumedPoints,
    msBeforeNext: res.msBeforeNext,
  });
  return {
    async add(key, points) {
      try {
        const res = points >= 0 ? await limiter.consume(key, points) : await limiter.reward(key, -points);
        return count(res.consumedPoints <= limiter.points, res);
      } catch (error) {
        if (error instanceof RateLimiterRes) return count(false, error);
        throw error;
      }
    },
  };
}
