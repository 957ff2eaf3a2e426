/**
 * The time of day every expiry decision is taken against: session idle and absolute ends, token `iat`/`exp`,
 * revocation markers, key retirement. One clock flows from `createBff` into the store, key ring and guard, so a
 * test can move time forward instead of sleeping. Production code never passes one: `systemClock` is the default.
 *
 * Only epoch time goes through it. Waits and deadlines (command timeouts, blocking reads, heartbeats) and the
 * revocation view's staleness are real elapsed time and use timers, and the Redis store's scripts take their own
 * expiry decisions on Redis's clock (`TIME`, key TTLs); see docs/time.md.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch, like `Date.now()`. */
  now(): number;
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** Accepts objects with a `now()` method (options validation). */
export const isClock = (value: unknown): value is Clock => typeof value === 'object' && value !== null && typeof (value as Clock).now === 'function';
