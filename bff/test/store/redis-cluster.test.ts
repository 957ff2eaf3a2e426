/**
 * The Redis store on a real 3-master Redis Cluster: the whole contract suite, then what only a Cluster shows
 * (keys spread over every master, the bell waking a follower on another connection, rate limits on every node).
 */
import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisKeyLayout } from '../../src/store/redis-keys.js';
import { RedisStore } from '../../src/store/redis.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { newSession, revocationState, runStoreContract } from './contract.js';

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 30_000);

afterAll(async () => {
  await cluster?.stop();
});

const freshPrefix = () => `lkc:${randomUUID()}:`;
const connect = (prefix = freshPrefix(), extra: { shards?: number } = {}) =>
  RedisStore.connect({ clusterNodes: [cluster.url], prefix, ...extra });

runStoreContract('RedisStore on a Redis Cluster', async () => {
  const store = await connect();
  return { store, teardown: () => store.close() };
});

describe('RedisStore on a Redis Cluster', () => {
  const opened: Array<{ close(): Promise<void> }> = [];
  const open = async (prefix?: string, extra?: { shards?: number }) => {
    const store = await connect(prefix, extra);
    opened.push(store);
    return store;
  };

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  /** Keys under `prefix` on each master. */
  async function keysPerMaster(prefix: string): Promise<number[]> {
    return Promise.all(
      cluster.nodes.map(async (node) => {
        const direct = new Redis(node.port, node.host);
        try {
          return (await direct.keys(`${prefix}*`)).length;
        } finally {
          direct.disconnect();
        }
      }),
    );
  }

  it('spreads users over every master, and keeps each user in one slot', async () => {
    const prefix = freshPrefix();
    const store = await open(prefix);
    const users = Array.from({ length: 48 }, (_, i) => `user-${i}`);
    for (const user of users) await store.createSession(newSession(user));
    const perMaster = await keysPerMaster(prefix);
    expect(perMaster.every((n) => n > 0)).toBe(true);
    // Each user's whole set of sessions is ended by one script, which a Cluster only allows within one slot.
    const now = Date.now();
    for (const user of users.slice(0, 6)) {
      await store.createSession(newSession(user));
      expect(await store.endAllUserSessions(user, now, now, 60_000)).toHaveLength(2);
    }
  });

  it('a follower waiting on one store wakes for a revocation written through another, on any shard', async () => {
    const prefix = freshPrefix();
    const [writer, follower] = [await open(prefix), await open(prefix)];
    let { position } = await follower.readRevocations(null, { blockMs: 0, count: 100 });
    // The first blocking read subscribes and reads every shard; later ones wait for the bell.
    ({ position } = await follower.readRevocations(position, { blockMs: 200, count: 100 }));
    for (const jti of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const started = Date.now();
      const waiting = follower.readRevocations(position, { blockMs: 5000, count: 100 });
      await new Promise((r) => setTimeout(r, 20));
      await writer.revokeJti(jti, 60_000);
      const batch = await waiting;
      expect(batch.events.map((e) => e.id)).toEqual([jti]);
      // Woken by the bell, not by the 5 s wait running out.
      expect(Date.now() - started).toBeLessThan(4000);
      position = batch.position;
    }
  });

  it('ends sessions and revokes users through one store and shows it through another', async () => {
    const prefix = freshPrefix();
    const [a, b] = [await open(prefix), await open(prefix)];
    const alice = `alice-${randomUUID()}`;
    const s = newSession(alice);
    await a.createSession(s);
    expect(await b.getSession(s.key, Date.now())).toEqual(s);
    const now = Date.now();
    await b.endAllUserSessions(alice, now, now, 60_000);
    expect(await a.getSession(s.key, now)).toBeNull();
    expect(await revocationState(a, 'no-jti', s.sid, alice)).toMatchObject({ sidRevoked: true, userRevokedAfter: now });
  });

  it('logs a session start in the log of the user’s own shard (the slot of the session’s keys), and nowhere else', async () => {
    const prefix = freshPrefix();
    const store = await open(prefix);
    const user = `carol-${randomUUID()}`;
    const s = newSession(user);
    await store.createSession(s, { logTtlMs: 60_000 });
    const layout = createRedisKeyLayout(prefix, 16);
    const direct = new Cluster([cluster.url]);
    try {
      const logs = await Promise.all(layout.logKeys.map((key) => direct.xrange(key, '-', '+')));
      const holding = logs.flatMap((entries, shard) => (entries.some(([, f]) => f.includes(s.sid)) ? [shard] : []));
      expect(holding).toEqual([layout.shardOfUser(user)]);
      const [, fields] = logs[layout.shardOfUser(user)]!.find(([, f]) => f.includes(s.sid))!;
      expect(fields).toEqual(expect.arrayContaining(['k', 'session', 'i', s.sid, 'u', user]));
    } finally {
      direct.disconnect();
    }
  });

  it('shares rate-limit counters across stores, atomically, on every master, each key expiring', async () => {
    const prefix = freshPrefix();
    const [one, two] = [await open(prefix), await open(prefix)];
    const options = { name: 'login', points: 5, windowMs: 60_000 };
    const counters = [one.createRateLimitCounter(options), two.createRateLimitCounter(options)];
    // Keys on every master: each script runs on the node that owns its key.
    for (let i = 0; i < 12; i++) {
      await counters[0]!.add(`ip-${i}`, 1);
      expect(await counters[1]!.add(`ip-${i}`, 1)).toMatchObject({ allowed: true, consumed: 2 });
    }
    expect((await keysPerMaster(`${prefix}rl:login:`)).every((n) => n > 0)).toBe(true);
    // Concurrent adds through both stores: exactly `points` fit.
    const concurrent = await Promise.all(Array.from({ length: 40 }, (_, i) => counters[i % 2]!.add('hot', 1)));
    expect(concurrent.filter((c) => c.allowed)).toHaveLength(5);
    for (const node of cluster.nodes) {
      const direct = new Redis(node.port, node.host);
      try {
        for (const key of await direct.keys(`${prefix}rl:*`)) expect(await direct.pttl(key)).toBeGreaterThan(0);
      } finally {
        direct.disconnect();
      }
    }
  });

  it('accepts a Cluster client the caller owns, and leaves it open on close', async () => {
    const client = new Cluster([...cluster.seeds], { lazyConnect: true });
    await client.connect();
    try {
      const store = new RedisStore({ client, prefix: freshPrefix() });
      await store.ready();
      const s = newSession(`carol-${randomUUID()}`);
      await store.createSession(s);
      expect(await store.getSession(s.key, Date.now())).toEqual(s);
      await store.close();
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('rejects a shard count out of range', () => {
    expect(() => new RedisStore({ clusterNodes: [cluster.url], shards: 0 })).toThrow(/shards/);
    expect(() => new RedisStore({ clusterNodes: [cluster.url], shards: 257 })).toThrow(/shards/);
    expect(() => new RedisStore({ clusterNodes: ['http://x'] })).toThrow(/redis:\/\//);
  });
});
