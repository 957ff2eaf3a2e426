import type { Cluster } from 'ioredis';

/**
 * Tells a Redis Cluster follower of the sharded revocation log which shards have news.
 *
 * On a single Redis one `XREAD BLOCK` waits on every shard's stream at once. In a Cluster it cannot: a command
 * may not span slots, and a blocking read would hold the node connection every other command of that node shares.
 * So each revoking script also SPUBLISHes on a shard channel named after the log it appended to (same slot, so the
 * script may), and a follower SSUBSCRIBEs to every shard's channel: sharded Pub/Sub goes straight from the master
 * that ran the script to its subscribers, where classic Pub/Sub first crosses the Cluster bus to every node. The
 * subscriber is a Cluster client with `shardedSubscribers` (ioredis keeps one connection per master and follows
 * the slot map). Pub/Sub may drop a message; the follower therefore reads every shard whenever the wait times out
 * (the heartbeat) and after each (re)subscription, so a lost message costs at most one wait, never an event.
 *
 * Each message carries its entry and the id of the entry before it (redis-scripts.ts, `withBell`), and the bell
 * keeps the last few per shard: a reader whose position on a shard is where the chain of kept messages starts
 * takes the new entries from them without reading the log, so a revocation reaches it in one hop, as XREAD BLOCK
 * gives a single node. A chain with a gap (a lost message, a reader further back) means: read that shard.
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
  /** The latest announced entries of each shard, in the order they came (one master sends a shard's messages in order). */
  private readonly announced: AnnouncedEntry[][];

  constructor(
    private readonly subscriber: Cluster,
    private readonly channels: readonly string[],
  ) {
    this.rungAt = channels.map(() => 0);
    this.announced = channels.map(() => []);
    const shardOf = new Map(channels.map((channel, shard) => [channel, shard]));
    subscriber.on('smessage', (channel: string, message: string) => {
      const shard = shardOf.get(channel);
      if (shard === undefined) return;
      const entry = parseAnnouncement(message);
      const kept = this.announced[shard]!;
      // A message that does not parse still rings, and breaks the chain: readers then read the shard.
      if (entry === null) kept.length = 0;
      else {
        kept.push(entry);
        if (kept.length > KEPT_PER_SHARD) kept.shift();
      }
      this.rungAt[shard] = ++this.sequence;
      this.wakeAll();
    });
    // A master's subscriber connection lost, replaced or resubscribed (failover, restart): anything published in
    // between was missed, so readers read every shard again.
    for (const event of ['-node', '-subscriber', 'subscribersReady']) {
      subscriber.on(event, () => {
        if (this.subscribedAt < 0) return;
        this.subscribedAt = ++this.sequence;
        this.wakeAll();
      });
    }
  }

  /**
   * Waits until a shard rings after `seen`, or `waitMs` passes. Answers the shards to read, or 'all' when a
   * message may have been missed: `why` says whether a bell rang, the reader may have missed messages (first call,
   * resubscription), or the wait ran out (the heartbeat's full read).
   */
  async next(seen: number | null, waitMs: number): Promise<BellAnswer> {
    await this.subscribe();
    const deadline = Date.now() + waitMs;
    while (seen !== null && seen >= this.subscribedAt && this.rungSince(seen).length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.wait(left);
    }
    const sequence = this.sequence;
    if (seen === null || seen < this.subscribedAt) return { shards: 'all', sequence, why: 'subscribed' };
    const rung = this.rungSince(seen);
    return rung.length === 0 ? { shards: 'all', sequence, why: 'heartbeat' } : { shards: rung, sequence, why: 'rung' };
  }

  /** The shards whose bell rang after `seen`. */
  rungSince(seen: number): number[] {
    const rung: number[] = [];
    this.rungAt.forEach((at, shard) => {
      if (at > seen) rung.push(shard);
    });
    return rung;
  }

  /**
   * The entries of `shard` after stream id `after`, from the messages alone: null when they cannot prove that
   * nothing is missing (no kept message continues from `after`, or the chain has a gap), so the shard must be read.
   */
  entriesAfter(shard: number, after: string): Array<[string, string[]]> | null {
    const kept = this.announced[shard] ?? [];
    const last = kept.at(-1);
    if (last === undefined) return null;
    if (compareStreamIds(last.id, after) <= 0) return [];
    const start = kept.findIndex((entry) => entry.previousId === after);
    if (start < 0) return null;
    for (let i = start + 1; i < kept.length; i++) if (kept[i]!.previousId !== kept[i - 1]!.id) return null;
    return kept.slice(start).map((entry) => [entry.id, entry.fields]);
  }

  close(): void {
    this.wakeAll();
    this.subscriber.disconnect();
  }

  private subscribe(): Promise<void> {
    // One SSUBSCRIBE per channel: each shard's channel is in its own slot, and one command may name only one slot.
    this.subscribing ??= Promise.all(this.channels.map((channel) => this.subscriber.ssubscribe(channel))).then(
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

/** Messages kept per shard: enough for a burst between two reads (a logout-all writes one event per session). */
const KEPT_PER_SHARD = 64;

interface AnnouncedEntry {
  previousId: string;
  id: string;
  fields: string[];
}

const STREAM_ID = /^\d+-\d+$/;

/** `[previousId, id, [field, value, ...]]` as the script sends it, or null. */
function parseAnnouncement(message: string): AnnouncedEntry | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) return null;
  const [previousId, id, fields] = parsed as unknown[];
  if (typeof previousId !== 'string' || !STREAM_ID.test(previousId) || typeof id !== 'string' || !STREAM_ID.test(id)) return null;
  if (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string')) return null;
  return { previousId, id, fields: fields as string[] };
}

/** Orders two stream ids `ms-seq` (numerically on both parts). */
export function compareStreamIds(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(Number) as [number, number];
  const [bMs, bSeq] = b.split('-').map(Number) as [number, number];
  return aMs - bMs || aSeq - bSeq;
}

export interface BellAnswer {
  shards: readonly number[] | 'all';
  sequence: number;
  why: 'rung' | 'subscribed' | 'heartbeat';
}
