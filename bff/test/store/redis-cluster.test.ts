/**
 * The Redis store on a real 3-master Redis Cluster: the whole contract suite, then what only a Cluster shows
 * (keys spread over every master, the bell waking a follower on another connection, rate limits on every node).
 */
import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisKeyLayout } from '../../src/store/redis-keys.js';
import { RedisStore } from '../../src/store/redis.js';
import { startTestBff } from '../helpers/harness.js';
import { type RedisCluster, startRedisCluster } from '@latchkey/testkit';
import { expireRedisKeysBy, TestClock } from '../helpers/test-clock.js';
import { newSession, revocationState, runStoreContract } from './contract.js';

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 30_000);

afterAll(async () => {
  await cluster?.stop();
});

const freshPrefix = () => `lkc:${randomUUID()}:`;
const connect = (prefix = freshPrefix(), extra: { shards?: number } = {}) => RedisStore.connect({ clusterNodes: [cluster.url], prefix, ...extra });

runStoreContract('RedisStore on a Redis Cluster', async () => {
  const prefix = freshPrefix();
  const store = await connect(prefix);
  const client = (store as unknown as { client: Cluster }).client;
  return { store, clock: TestClock.running(), expireBy: (ms: number) => expireRedisKeysBy(client, prefix, ms), teardown: () => store.close() };
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
      expect(await store.endAllUserSessions(user, 'logout_all', now, now, 60_000)).toHaveLength(2);
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

  it('announces each event with SPUBLISH on its shard channel, straight from the master that owns the shard', async () => {
    const prefix = freshPrefix();
    const store = await open(prefix);
    const channel = createRedisKeyLayout(prefix, 16).logKeys[0]!;
    const router = new Cluster([...cluster.seeds], { lazyConnect: true });
    await router.connect();
    const [host, port] = router.slots[calculateSlot(channel)]![0]!.split(':');
    router.disconnect();
    // A plain sharded subscriber on the master that owns the channel's slot (a classic PUBLISH would not reach it).
    const listener = new Redis(Number(port), host!);
    try {
      const heard: string[] = [];
      listener.on('smessage', (name: string) => void heard.push(name));
      await listener.ssubscribe(channel);
      await store.putKeyRing(null, { version: 'v1', sealed: 'ring' }); // the key ring's event goes to shard 0's log
      await expect.poll(() => heard, { timeout: 3000, interval: 10 }).toEqual([channel]);
    } finally {
      listener.disconnect();
    }
  });

  /** XRANGE calls served so far by every master (INFO commandstats). */
  async function xrangeCalls(): Promise<number> {
    const perNode = await Promise.all(
      cluster.nodes.map(async (node) => {
        const direct = new Redis(node.port, node.host);
        try {
          const stats = await direct.info('commandstats');
          return Number(/^cmdstat_xrange:calls=(\d+)/m.exec(stats)?.[1] ?? 0);
        } finally {
          direct.disconnect();
        }
      }),
    );
    return perNode.reduce((a, b) => a + b, 0);
  }

  it("takes an announced entry from the bell's message, without reading the log; a broken chain makes it read the shard", async () => {
    const prefix = freshPrefix();
    const [writer, follower] = [await open(prefix), await open(prefix)];
    let { position } = await follower.readRevocations(null, { blockMs: 0, count: 100 });
    ({ position } = await follower.readRevocations(position, { blockMs: 200, count: 100 }));

    // One hop: the message carries the entry and the id before it, which is where the follower stands.
    const before = await xrangeCalls();
    for (const jti of ['one', 'two', 'three', 'four']) {
      const waiting = follower.readRevocations(position, { blockMs: 5000, count: 100 });
      await writer.revokeJti(jti, 60_000);
      const batch = await waiting;
      expect(batch.events.map((e) => e.id)).toEqual([jti]);
      position = batch.position;
    }
    expect(await xrangeCalls()).toBe(before);

    // An entry appended without its message, then one announced after it: the chain does not continue from where
    // the follower stands, so it reads that shard and gets both, in order.
    const layout = createRedisKeyLayout(prefix, 16);
    const log = layout.logKeys[5]!;
    const direct = new Cluster([...cluster.seeds]);
    try {
      const silentId = await direct.xadd(log, '*', 'k', 'jti', 'i', 'silent', 'x', String(Date.now() + 60_000), 'r', '0');
      const loudFields = ['k', 'jti', 'i', 'loud', 'x', String(Date.now() + 60_000), 'r', '0'];
      const loudId = await direct.xadd(log, '*', ...loudFields);
      const waiting = follower.readRevocations(position, { blockMs: 5000, count: 100 });
      await direct.spublish(log, JSON.stringify([silentId, loudId, loudFields]));
      const batch = await waiting;
      expect(batch.events.map((e) => e.id)).toEqual(['silent', 'loud']);
      expect(await xrangeCalls()).toBeGreaterThan(before);
    } finally {
      direct.disconnect();
    }
  });

  it('counts events whose bell was lost: the heartbeat finds them and the guard reports them as misses', async () => {
    const prefix = freshPrefix();
    const [writer, follower] = [await open(prefix), await open(prefix)];
    let { position } = await follower.readRevocations(null, { blockMs: 0, count: 100 });
    ({ position } = await follower.readRevocations(position, { blockMs: 200, count: 100 }));

    // Announced: the bell wakes the follower, nothing is missed.
    const waiting = follower.readRevocations(position, { blockMs: 5000, count: 100 });
    await writer.revokeJti('announced', 60_000);
    const announced = await waiting;
    expect(announced.events.map((e) => e.id)).toEqual(['announced']);
    expect(announced.unannounced ?? 0).toBe(0);

    // An entry appended without its bell (as if the message were lost): only the heartbeat's full read finds it.
    const log = createRedisKeyLayout(prefix, 16).logKeys[3]!;
    const direct = new Cluster([...cluster.seeds]);
    try {
      await direct.xadd(log, '*', 'k', 'jti', 'i', 'silent', 'x', String(Date.now() + 60_000), 'r', '0');
    } finally {
      direct.disconnect();
    }
    const found = await follower.readRevocations(announced.position, { blockMs: 300, count: 100 });
    expect(found.events.map((e) => e.id)).toEqual(['silent']);
    expect(found.unannounced).toBe(1);

    // Through a guard: latchkey_revocation_bell_misses_total.
    const t = await startTestBff({}, await open(prefix));
    const metric = (name: string) => t.bff.metrics.registry.getSingleMetricAsString(name);
    try {
      // Once the guard has applied an announced event it is past its first full read: what it finds now is a miss.
      await writer.revokeJti('announced-2', 60_000);
      await expect.poll(() => metric('latchkey_revocation_propagation_seconds'), { timeout: 5000, interval: 20 }).toMatch(/_count 1$/m);
      const again = new Cluster([...cluster.seeds]);
      try {
        await again.xadd(log, '*', 'k', 'jti', 'i', 'silent-2', 'x', String(Date.now() + 60_000), 'r', '0');
      } finally {
        again.disconnect();
      }
      await expect.poll(() => metric('latchkey_revocation_bell_misses_total'), { timeout: 5000, interval: 50 }).toMatch(/_total 1$/m);
    } finally {
      await t.bff.close();
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
    await b.endAllUserSessions(alice, 'logout_all', now, now, 60_000);
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
