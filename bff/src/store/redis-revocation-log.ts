import type { Cluster, Redis } from 'ioredis';
import { isSessionEndReason } from '@latchkey/shared';
import type { RedisKeyLayout } from './redis-keys.js';
import { RevocationLogBell } from './redis-log-bell.js';
import type { ReadRevocationsOptions, RevocationBatch, RevocationEvent } from './revocation-feed.js';

/**
 * Reads the Redis store's revocation log: one stream per shard (redis-keys.ts), merged into one feed.
 *
 * The position is every shard's last stream id, plus, on a Cluster, the bell sequence the reader has seen. Waiting
 * for news: on a single node, one XREAD BLOCK over every shard's stream on a connection of its own; on a Cluster,
 * where a command cannot span slots, the bell (redis-log-bell.ts) says which shards to read.
 */
export class RedisRevocationLog {
  private blocking: Redis | undefined;
  private bell: RevocationLogBell | undefined;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly isCluster: boolean,
    private readonly keys: RedisKeyLayout,
    /** Called with each connection this reader opens, so the store can listen for its errors. */
    private readonly adopt: (client: Redis | Cluster) => void,
  ) {}

  async read(after: string | null, options: ReadRevocationsOptions): Promise<RevocationBatch> {
    const cursor = parseCursor(after, this.keys.shardCount);
    if (options.blockMs <= 0) {
      const { perShard: _, ...batch } = await this.readShards('all', cursor, options.count);
      return batch;
    }
    return this.isCluster ? this.waitForBell(cursor, options) : this.waitWithXread(cursor, options);
  }

  close(): void {
    this.blocking?.disconnect();
    this.bell?.close();
  }

  /** Abandons the blocking connection (its read may still be pending in it); the next blocking read opens a new one. */
  dropBlockingConnection(): void {
    this.blocking?.disconnect();
    this.blocking = undefined;
  }

  private async waitWithXread(cursor: LogCursor, options: ReadRevocationsOptions): Promise<RevocationBatch> {
    const reply = await this.blockingClient().xread('COUNT', options.count, 'BLOCK', options.blockMs, 'STREAMS', ...this.keys.logKeys, ...cursor.ids);
    const read = (reply ?? []).map(([log, entries]) => ({ shard: this.keys.logKeys.indexOf(log), entries }));
    const { perShard: _, ...batch } = mergeShardEntries(
      read.filter((r) => r.shard >= 0),
      cursor,
      options.count,
    );
    return batch;
  }

  /** Reads what the bell says, until there are events or `blockMs` has passed. */
  private async waitForBell(cursor: LogCursor, options: ReadRevocationsOptions): Promise<RevocationBatch> {
    const bell = this.logBell();
    const deadline = Date.now() + options.blockMs;
    let seen = cursor.seen;
    for (;;) {
      const { shards, sequence, why } = await bell.next(seen, Math.max(0, deadline - Date.now()));
      const { perShard, ...batch } =
        shards === 'all'
          ? await this.readShards(shards, { ids: cursor.ids, seen: sequence }, options.count)
          : await this.readAnnounced(bell, shards, { ids: cursor.ids, seen: sequence }, options.count);
      if (why === 'heartbeat') {
        // Events the heartbeat found on shards whose bell has not rung even now: their messages were lost.
        const rung = new Set(bell.rungSince(sequence));
        batch.unannounced = [...perShard].reduce((n, [shard, events]) => (rung.has(shard) ? n : n + events), 0);
      }
      if (batch.events.length >= options.count) {
        // Cut short at `count`: forget the bell sequence, so the next call reads every shard at once.
        return { ...batch, position: formatCursor({ ids: parseCursor(batch.position, this.keys.shardCount).ids, seen: null }) };
      }
      if (batch.events.length > 0 || Date.now() >= deadline) return batch;
      seen = sequence;
    }
  }

  /** The rung shards' new entries from the bell's messages where they form an unbroken chain; the others are read. */
  private async readAnnounced(bell: RevocationLogBell, shards: readonly number[], cursor: LogCursor, count: number): Promise<ShardedBatch> {
    const fromMessages: Array<{ shard: number; entries: Array<[string, string[]]> }> = [];
    const toRead: number[] = [];
    for (const shard of shards) {
      const entries = bell.entriesAfter(shard, cursor.ids[shard]!);
      if (entries === null) toRead.push(shard);
      else fromMessages.push({ shard, entries });
    }
    if (toRead.length === 0) return mergeShardEntries(fromMessages, cursor, count);
    const read = await this.fetchShards(toRead, cursor, count);
    return mergeShardEntries([...fromMessages, ...read], cursor, count);
  }

  private async readShards(shards: readonly number[] | 'all', cursor: LogCursor, count: number): Promise<ShardedBatch> {
    const targets = shards === 'all' ? this.keys.logKeys.map((_, i) => i) : shards;
    return mergeShardEntries(await this.fetchShards(targets, cursor, count), cursor, count);
  }

  private async fetchShards(
    shards: readonly number[],
    cursor: LogCursor,
    count: number,
  ): Promise<Array<{ shard: number; entries: Array<[string, string[]]> }>> {
    const replies = await Promise.all(
      shards.map((shard) => {
        const id = cursor.ids[shard]!;
        return this.client.xrange(this.keys.logKeys[shard]!, id === '0-0' ? '-' : `(${id}`, '+', 'COUNT', count);
      }),
    );
    return replies.map((entries, i) => ({ shard: shards[i]!, entries }));
  }

  /** XREAD BLOCK holds its connection, so it gets one of its own. */
  private blockingClient(): Redis {
    if (this.blocking === undefined) {
      this.blocking = (this.client as Redis).duplicate({ lazyConnect: false, enableOfflineQueue: true, commandTimeout: undefined });
      this.adopt(this.blocking);
    }
    return this.blocking;
  }

  private logBell(): RevocationLogBell {
    if (this.bell === undefined) {
      const subscriber = (this.client as Cluster).duplicate(undefined, { lazyConnect: false, enableOfflineQueue: true, shardedSubscribers: true });
      this.adopt(subscriber);
      this.bell = new RevocationLogBell(subscriber, this.keys.logKeys);
    }
    return this.bell;
  }
}

interface LogCursor {
  /** Last stream id read from each shard's log ('0-0': nothing yet). */
  ids: string[];
  /** The bell sequence the reader has seen (Cluster only); null: not yet following. */
  seen: number | null;
}

/** Position text: `id,id,...` plus `;seen` once a Cluster reader follows the bell. */
function parseCursor(position: string | null, shardCount: number): LogCursor {
  const [idsText, seenText] = (position ?? '').split(';');
  const given = idsText ? idsText.split(',') : [];
  const ids = Array.from({ length: shardCount }, (_, i) => (given[i] && /^\d+-\d+$/.test(given[i]!) ? given[i]! : '0-0'));
  const seen = seenText !== undefined && /^\d+$/.test(seenText) ? Number(seenText) : null;
  return { ids, seen };
}

function formatCursor(cursor: LogCursor): string {
  return cursor.seen === null ? cursor.ids.join(',') : `${cursor.ids.join(',')};${cursor.seen}`;
}

/**
 * Entries read from several shards → one batch of at most `count` events, oldest first (each shard's log is in
 * order; across shards only time orders them). A shard's position moves only past the entries returned, so whatever
 * is cut off comes in the next batch.
 */
function mergeShardEntries(read: Array<{ shard: number; entries: Array<[string, string[]]> }>, cursor: LogCursor, count: number): ShardedBatch {
  const tagged = read.flatMap(({ shard, entries }) => entries.map(([id, fields]) => ({ shard, id, event: eventFromEntry(id, fields) })));
  tagged.sort((a, b) => streamIdTime(a.id) - streamIdTime(b.id));
  const kept = tagged.slice(0, count);
  const ids = [...cursor.ids];
  const perShard = new Map<number, number>();
  for (const { shard, id } of kept) {
    ids[shard] = id;
    perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
  }
  return {
    events: kept.flatMap(({ event }) => (event ? [event] : [])),
    position: formatCursor({ ids, seen: cursor.seen }),
    perShard,
  };
}

/** A batch with how many of its entries came from each shard (what the bell should have announced). */
type ShardedBatch = RevocationBatch & { perShard: Map<number, number> };

const streamIdTime = (id: string): number => Number(id.split('-')[0]);

/** A stream entry `id, [field, value, ...]` → event; `at` is the id's millisecond part (Redis's clock). */
function eventFromEntry(id: string, flat: string[]): RevocationEvent | null {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i]!, flat[i + 1]!);
  const kind = f.get('k');
  const base = { id: f.get('i') ?? '', expiresAt: Number(f.get('x')), at: streamIdTime(id) };
  if (kind === 'user' || kind === 'tenant' || kind === 'all') return { kind, ...base, revokedAfter: Number(f.get('r')) };
  if (kind === 'sid') {
    const userId = f.get('u');
    const reason = f.get('w');
    return { kind, ...base, ...(userId === undefined ? {} : { userId }), ...(isSessionEndReason(reason) ? { reason } : {}) };
  }
  if (kind === 'session') return { kind, ...base, userId: f.get('u') ?? '' };
  if (kind === 'jti' || kind === 'keyring') return { kind, ...base };
  return null;
}
