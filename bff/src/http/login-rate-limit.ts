import type { BffContext } from '../context.js';
import type { RateLimitCount } from '../store/rate-limit-counter.js';
import { accountId, ipKey, RequestLimit, type LimitSubject } from './rate-limit.js';

/** Every login attempt per client IP, counted before anything else reads the request: refuses with 429 (or 503). */
export type LoginIpLimit = (ip: string | undefined) => Promise<void>;

export function createLoginIpLimit(ctx: BffContext): LoginIpLimit {
  const limit = new RequestLimit(ctx, 'login-ip', ctx.options.rateLimit.login.perIp, {
    countRefusal: () => ctx.metrics.logins.inc({ outcome: 'rate_limited' }),
  });
  return async (ip = '') => {
    await limit.take(ipKey(ip), { ip });
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
 * against guessing from many addresses). A login from a known device of the account (its device cookie, see
 * known-device.ts) is counted on that device's own counter instead of both: guessing from elsewhere, which fills the
 * account's counters, cannot lock the owner's devices out.
 *
 * A failure is *reserved* (counted, atomically in the store) before the password is checked, and given back when the
 * password was right. So concurrent guesses cannot all pass a count read before any of them failed: at most `limit`
 * attempts per window reach the password check. A reservation refused while other attempts of this process are still in
 * flight waits for them and tries again (they may be correct logins that give theirs back), so concurrent correct
 * logins on one instance are not limited either (up to MAX_WAITS rounds: some fifty times the limit at the same instant).
 */
export interface AccountFailureLimit {
  /**
   * Refuses with 429 and Retry-After when the account (or, with `device`, the nonce of a device cookie issued for
   * this account, that device) has no room left, 503 when the limiter's store is down.
   */
  reserve(username: string, ip: string, device: string | null): Promise<FailureReservation>;
}

/** Waits at most this many times for attempts in flight before answering 429: the loop always ends. */
const MAX_WAITS = 50;

export function createAccountFailureLimit(ctx: BffContext): AccountFailureLimit {
  const { perAccount, perAccountAndIp, perKnownDevice } = ctx.options.rateLimit.login;
  const refused = { countRefusal: () => ctx.metrics.logins.inc({ outcome: 'rate_limited' }) };
  const accountAndIp = new RequestLimit(ctx, 'login-account-ip', perAccountAndIp, refused);
  const account = new RequestLimit(ctx, 'login-account', perAccount, refused);
  const knownDevice = new RequestLimit(ctx, 'login-device', perKnownDevice, refused);
  const inFlight = new InFlightReservations();

  const reserveOn = async (limit: RequestLimit, key: string, subject: LimitSubject): Promise<FailureReservation> => {
    const slot = `${limit.name}\n${key}`;
    for (let waits = 0; ; waits++) {
      const attempt = inFlight.start(slot);
      let count: RateLimitCount;
      try {
        count = await limit.add(key, 1);
      } catch (error) {
        attempt.settle();
        throw error;
      }
      if (count.allowed) {
        return {
          refund: async () => {
            try {
              await limit.add(key, -1);
            } finally {
              attempt.settle();
            }
          },
          keep: attempt.settle,
        };
      }
      // Every other attempt of this process that was in flight at any time during this one may have been counted
      // ahead of it (the limiter can reorder commands, and one may have settled before this answer was read).
      const overlapping = attempt.overlapping();
      // Over the limit even if all of them were counted: a real refusal.
      const overWithoutOurs = count.consumed - overlapping > limit.setting.limit;
      // A refused attempt is not a failure: give it back so it cannot crowd out others.
      try {
        await limit.add(key, -1);
      } finally {
        attempt.settle();
      }
      if (!overWithoutOurs && overlapping > 0 && waits < MAX_WAITS) {
        // Attempts of ours may have been counted ahead: they may be correct logins that give theirs back. Wait for
        // those still in flight (each settles on its own: allowed ones after the password check, refused ones at
        // once), try again.
        await Promise.all(inFlight.unsettled(slot));
        continue;
      }
      throw limit.refusal(count, subject);
    }
  };

  return {
    async reserve(username, ip, device) {
      const lower = username.toLowerCase();
      const subject = { ip, account: accountId(username) };
      // The nonce is the device's: a device cookie is per account (its MAC binds the username).
      if (device !== null) return reserveOn(knownDevice, device, { ...subject, knownDevice: true });
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

/** Attempts of this process not yet settled, per counter key; memory follows the requests in flight. */
class InFlightReservations {
  /** Per slot: the unsettled attempts, and how many attempts ever started while the entry lived. */
  private readonly pending = new Map<string, { attempts: Set<Promise<void>>; started: number }>();

  /**
   * Registers an attempt about to be counted. `overlapping()` is how many other attempts on the slot were in flight
   * at some time since (unsettled at the start, or started later); `settle` (idempotent) ends it.
   */
  start(slot: string): { overlapping: () => number; settle: () => void } {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const entry = this.pending.get(slot) ?? { attempts: new Set<Promise<void>>(), started: 0 };
    this.pending.set(slot, entry);
    const unsettledBefore = entry.attempts.size;
    entry.attempts.add(done);
    const startedAt = ++entry.started;
    return {
      // The entry lives at least as long as this attempt is unsettled, so its `started` keeps counting.
      overlapping: () => unsettledBefore + (entry.started - startedAt),
      settle: () => {
        entry.attempts.delete(done);
        if (entry.attempts.size === 0 && this.pending.get(slot) === entry) this.pending.delete(slot);
        resolve();
      },
    };
  }

  /** The attempts on `slot` not yet settled, each as a promise that resolves when it is. */
  unsettled(slot: string): Array<Promise<void>> {
    return [...(this.pending.get(slot)?.attempts ?? [])];
  }
}
