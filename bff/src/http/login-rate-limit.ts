import type { RequestHandler } from 'express';
import type { BffContext } from '../context.js';
import { accountId, ipKey, RequestLimit, type LimitSubject } from './rate-limit.js';

/** Every login attempt per client IP, counted before anything else reads the request. */
export function createLoginIpLimit(ctx: BffContext): RequestHandler {
  const limit = new RequestLimit(ctx, 'login-ip', ctx.options.rateLimit.perIp, () => ctx.metrics.logins.inc({ outcome: 'rate_limited' }));
  return async (req, _res, next) => {
    const ip = req.ip ?? '';
    await limit.take(ipKey(ip), { ip });
    next();
  };
}

/** A failure reserved on an account before its password is checked. */
export interface FailureReservation {
  /** The password was right: the reservation is given back, so correct logins never use up the limit. */
  refund(): Promise<void>;
  /** The password was wrong: the reservation stays, as the failure. */
  keep(): void;
}

/**
 * Failed login attempts per account, counted twice: per account and client IP (a low limit: one guesser is stopped,
 * and the owner signing in from elsewhere is not locked out by them), and per account across all IPs (a high ceiling
 * against guessing from many addresses).
 *
 * A failure is *reserved* (counted, atomically in the store) before the password is checked, and given back when the
 * password was right. So concurrent guesses cannot all pass a count read before any of them failed: at most `limit`
 * attempts per window reach the password check. A reservation refused because attempts of this process are still in
 * flight waits for them and tries again (they may be correct logins that give theirs back), so concurrent correct
 * logins on one instance are not limited either.
 */
export interface AccountFailureLimit {
  /** Refuses with 429 and Retry-After when the account has no room left, 503 when the limiter's store is down. */
  reserve(username: string, ip: string): Promise<FailureReservation>;
}

/** Waits at most this many times for in-flight attempts before answering 429: the loop always ends. */
const MAX_WAITS = 10;

export function createAccountFailureLimit(ctx: BffContext): AccountFailureLimit {
  const { perAccount, perAccountAndIp } = ctx.options.rateLimit;
  const refused = () => ctx.metrics.logins.inc({ outcome: 'rate_limited' });
  const accountAndIp = new RequestLimit(ctx, 'login-account-ip', perAccountAndIp, refused);
  const account = new RequestLimit(ctx, 'login-account', perAccount, refused);
  const inFlight = new InFlightReservations();

  const reserveOn = async (limit: RequestLimit, key: string, subject: LimitSubject): Promise<FailureReservation> => {
    const slot = `${limit.name}\n${key}`;
    for (let waits = 0; ; waits++) {
      const count = await limit.add(key, 1);
      if (count.allowed) {
        const settle = inFlight.start(slot);
        return {
          refund: async () => {
            try {
              await limit.add(key, -1);
            } finally {
              settle();
            }
          },
          keep: settle,
        };
      }
      // A refused attempt is not a failure: give it back so it cannot crowd out the attempts that wait below.
      await limit.add(key, -1);
      if (waits < MAX_WAITS && (await inFlight.settled(slot))) continue;
      throw limit.refusal(count, subject);
    }
  };

  return {
    async reserve(username, ip) {
      const lower = username.toLowerCase();
      const subject = { ip, account: accountId(username) };
      const first = await reserveOn(accountAndIp, `${lower}\n${ipKey(ip)}`, subject);
      let second: FailureReservation;
      try {
        second = await reserveOn(account, lower, subject);
      } catch (error) {
        await first.refund().catch(() => undefined);
        throw error;
      }
      return {
        refund: async () => {
          await Promise.all([first.refund(), second.refund()]);
        },
        keep: () => {
          first.keep();
          second.keep();
        },
      };
    },
  };
}

/** Reservations of this process not yet settled, per counter key; memory follows the requests in flight. */
class InFlightReservations {
  private readonly pending = new Map<string, Set<Promise<void>>>();

  start(slot: string): () => void {
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const set = this.pending.get(slot) ?? new Set();
    this.pending.set(slot, set.add(done));
    return () => {
      set.delete(done);
      if (set.size === 0 && this.pending.get(slot) === set) this.pending.delete(slot);
      settle();
    };
  }

  /** Waits for the reservations now in flight on `slot`; false when there are none. */
  async settled(slot: string): Promise<boolean> {
    const set = this.pending.get(slot);
    if (set === undefined || set.size === 0) return false;
    await Promise.all([...set]);
    return true;
  }
}
