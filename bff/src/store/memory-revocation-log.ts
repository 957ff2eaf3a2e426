import type { Clock } from '../clock.js';
import type { ReadRevocationsOptions, RevocationBatch, RevocationEvent } from './revocation-feed.js';

type NewEvent = RevocationEvent extends infer E ? (E extends RevocationEvent ? Omit<E, 'at'> : never) : never;

/**
 * The in-memory store's revocation log: an append-only array of events with increasing sequence numbers.
 * Readers wait on a promise that the next append resolves. Entries leave once expired, so the log is bounded
 * by live revocations.
 */
export class MemoryRevocationLog {
  private entries: Array<{ seq: number; event: RevocationEvent }> = [];
  private seq = 0;
  private waiters = new Set<() => void>();

  /** Stamps each event's `at` (the store's clock, as its `expiresAt` is). */
  constructor(private readonly clock: Clock) {}

  append(event: NewEvent): void {
    this.entries.push({ seq: ++this.seq, event: { ...event, at: this.clock.now() } as RevocationEvent });
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  async read(after: string | null, options: ReadRevocationsOptions): Promise<RevocationBatch> {
    const from = after === null ? 0 : Number(after);
    let batch = this.after(from, options.count);
    if (batch.length === 0 && options.blockMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.blockMs);
        const waiters = this.waiters;
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
      batch = this.after(from, options.count);
    }
    const last = batch[batch.length - 1];
    return { events: batch.map((e) => e.event), position: last ? String(last.seq) : (after ?? String(this.seq)) };
  }

  prune(now: number): void {
    this.entries = this.entries.filter((e) => e.event.expiresAt > now);
  }

  /** Wakes every blocked reader (on close). */
  wakeAll(): void {
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  get size(): number {
    return this.entries.length;
  }

  private after(seq: number, count: number) {
    const out: Array<{ seq: number; event: RevocationEvent }> = [];
    for (const entry of this.entries) {
      if (entry.seq > seq) out.push(entry);
      if (out.length === count) break;
    }
    return out;
  }
}
