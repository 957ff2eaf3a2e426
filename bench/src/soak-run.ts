import type { Proc } from './soak-http.js';
import { Tally } from './soak-http.js';
import { Ledger } from './soak-ledger.js';
import { RevokedTokenProbes } from './soak-probes.js';
import { USERS, WINDOW_MS } from './soak-config.js';

/**
 * At most this many logins of one account in flight. Before each password check the BFF reserves a failure on two
 * counters, the account from this client IP (rateLimit.login.perAccountAndIp, 5 per 15 min; every soak device has its own
 * X-Forwarded-For address, so that one is per device) and the account from all IPs (rateLimit.login.perAccount, 100 per 15 min), and
 * gives both back when the password was right. A refused reservation waits for the attempts of its own process in
 * flight, not for the other process's: correct logins of one account on A and B at the same instant all count
 * against the account-wide ceiling until they give theirs back. Two per account keeps far below it, so a 429 in the
 * report means the limiter refused a correct login, not that the soak overran a limit.
 */
const LOGINS_IN_FLIGHT_PER_USER = 2;

export class Semaphore {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(slots: number) {
    this.free = slots;
  }
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

/** What the devices, the logout-all loop and the report share during one soak run. */
export class SoakRun {
  /** Set once both demo processes are up. */
  procs!: [Proc, Proc];
  readonly tally = new Tally();
  readonly ledger = new Ledger(WINDOW_MS);
  readonly rotation = { pairs: 0, pairsSameCookie: 0, pairsDifferentCookie: 0, retries: 0, retriesSameCookie: 0, retriesDifferentCookie: 0 };
  readonly driverErrors: string[] = [];
  readonly rateLimited = { count: 0, maxRetryAfterSeconds: 0 };
  readonly loginSlots = new Map(USERS.map((u) => [u.username, new Semaphore(LOGINS_IN_FLIGHT_PER_USER)]));
  readonly probes = new RevokedTokenProbes(this);
  stopping = false;

  pick(): Proc {
    return this.procs[Math.random() < 0.5 ? 0 : 1];
  }

  other(p: Proc): Proc {
    return p === this.procs[0] ? this.procs[1] : this.procs[0];
  }
}
