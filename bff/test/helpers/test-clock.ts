import type { Cluster, Redis } from 'ioredis';
import type { Clock } from '../../src/clock.js';

/**
 * A clock tests move by hand instead of sleeping. Pass the same instance to `createBff({ clock })` and
 * `new MemoryStore({ clock })`.
 *
 * `new TestClock()` starts at the real time (so what it stamps also makes sense to Redis and to express-session)
 * and stands still until told to move. `TestClock.running()` keeps running with real time, plus whatever it was
 * advanced by: the clock to stand beside a Redis store, whose own clock (TIME, key TTLs) runs on regardless.
 */
export class TestClock implements Clock {
  /** Frozen: the time. Running: the offset added to Date.now(). */
  #value: number;
  #running: boolean;

  constructor(start = Date.now()) {
    this.#value = start;
    this.#running = false;
  }

  static running(): TestClock {
    const clock = new TestClock(0);
    clock.#running = true;
    return clock;
  }

  now(): number {
    return this.#running ? Date.now() + this.#value : this.#value;
  }

  /** Moves the clock forward by `ms` (never backwards: expiry decisions assume time does not run back). */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance takes a non-negative number of ms, got ${ms}`);
    this.#value += ms;
  }

  /** Sets the clock to `epochMs`, which must not be earlier than now. */
  set(epochMs: number): void {
    const now = this.now();
    if (!(epochMs >= now)) throw new RangeError(`set cannot move the clock backwards (${epochMs} < ${now})`);
    this.advance(epochMs - now);
  }
}

/**
 * Lets `ms` pass for the keys under `prefix` on a Redis the test owns, as far as their TTLs go: each key's remaining
 * time-to-live shrinks by `ms` (PEXPIRE), and a key left with none is deleted (what Redis would have done by then).
 * Redis's own clock is not moved, so this honestly stands in for waiting only where the store decides expiry by key
 * TTLs; values stamped with Redis `TIME` (log entries' `at` and `x`) are compared against the test's clock instead.
 * On a Cluster every master is scanned.
 */
export async function expireRedisKeysBy(client: Redis | Cluster, prefix: string, ms: number): Promise<void> {
  const nodes = 'isCluster' in client && client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${globEscape(prefix)}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const ttl = await node.pttl(key);
        if (ttl < 0) continue; // no TTL (-1) or already gone (-2)
        if (ttl <= ms) await node.del(key);
        else await node.pexpire(key, ttl - ms);
      }
    } while (cursor !== '0');
  }
}

const globEscape = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
