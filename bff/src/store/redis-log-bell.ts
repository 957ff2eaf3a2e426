import type { Cluster } from 'ioredis';

/**
 * Tells a Redis Cluster follower of the sharded revocation log which shards have news.
 *
 * On a single Redis one `XREAD BLOCK` waits on every shard's stream at once. In a Cluster it cannot: a command
 * may not span slots, and a blocking read would hold the node connection every other command of that node shares.
 * So each revoking script also PUBLISHes on a channel named after the log it appended to (classic Pub/Sub reaches
 * subscribers on every node), and a follower waits for that. Pub/Sub may drop a message; the follower therefore
 * reads every shard whenever the wait times out and after each (re)subscription, so a lost message costs at most
 * one wait, never an event.
 *
 * Any number of readers may share one bell: each carries the `sequence` it has seen, and learns which shards
 * rang since then.
 */
export class RevocationLogBell {
  /** Incremented for every message; `rungAt[shard]` is the sequence of that shard's latest message. */
  private sequence = 0;
  private readonly rungAt: number[];
  /** Sequence of the latest (re)subscription: readers who saw less may have missed messages. */
  private subscribedAt = -1;
  private subscribing: Promise<void> | null = null;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly subscriber: Cluster,
    private readonly channels: readonly string[],
  ) {
    this.rungAt = channels.map(() => 0);
    const shardOf = new Map(channels.map((channel, shard) => [channel, shard]));
    subscriber.on('message', (channel: string) => {
      const shard = shardOf.get(channel);
      if (shard === undefined) return;
      this.rungAt[shard] = ++this.sequence;
      this.wakeAll();
    });
    // ioredis subscribes again after a reconnect; anything published in between was missed.
    let lost = false;
    subscriber.on('close', () => {
      lost = true;
    });
    subscriber.on('ready', () => {
      if (!lost) return;
      lost = false;
      this.subscribedAt = ++this.sequence;
      this.wakeAll();
    });
  }

  /**
   * Waits until a shard rings after `seen`, or `waitMs` passes. Answers the shards to read, or 'all' when a
   * message may have been missed (first call, resubscription, timeout: the periodic full read).
   */
  async next(seen: number | null, waitMs: number): Promise<{ shards: readonly number[] | 'all'; sequence: number }> {
    await this.subscribe();
    const deadline = Date.now() + waitMs;
    while (seen !== null && seen >= this.subscribedAt && this.rungSince(seen).length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.wait(left);
    }
    const sequence = this.sequence;
    if (seen === null || seen < this.subscribedAt) return { shards: 'all', sequence };
    const rung = this.rungSince(seen);
    return { shards: rung.length === 0 ? 'all' : rung, sequence };
  }

  close(): void {
    this.wakeAll();
    this.subscriber.disconnect();
  }

  private subscribe(): Promise<void> {
    this.subscribing ??= this.subscriber.subscribe(...this.channels).then(
      () => {
        if (this.subscribedAt < 0) this.subscribedAt = ++this.sequence;
      },
      (error: unknown) => {
        this.subscribing = null;
        throw error;
      },
    );
    return this.subscribing;
  }

  private rungSince(seen: number): number[] {
    const rung: number[] = [];
    this.rungAt.forEach((at, shard) => {
      if (at > seen) rung.push(shard);
    });
    return rung;
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
