/**
 * The Redis store behind Sentinel (docs/redis.md): a master, two replicas and one Sentinel, all real
 * redis-server processes. The store gets the caller's Sentinel-configured ioredis client; when the master is killed,
 * Sentinel promotes a replica, and the store, its blocking log reader (a duplicate of that client) and confirmed
 * writes all carry over.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import type { RevocationEvent } from '../../src/store/revocation-feed.js';
import { type RedisServer, startRedisServer } from '@latchkey/testkit';
import { newSession } from './contract.js';

const NAME = 'latchkey';
let master: RedisServer;
let replicas: RedisServer[];
let sentinel: RedisServer;

beforeAll(async () => {
  master = await startRedisServer();
  const replicaArgs = ['--replicaof', '127.0.0.1', String(master.port), '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];
  replicas = await Promise.all([startRedisServer({ extraArgs: replicaArgs }), startRedisServer({ extraArgs: replicaArgs })]);
  sentinel = await startRedisServer({
    config: [
      `sentinel monitor ${NAME} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${NAME} 1000`,
      `sentinel failover-timeout ${NAME} 5000`,
      '',
    ].join('\n'),
    extraArgs: ['--sentinel'],
  });
  // Ready once both replicas are in sync with the master and Sentinel has found them.
  const [probeSentinel, probeMaster] = [new Redis(sentinel.port, '127.0.0.1'), new Redis(master.port, '127.0.0.1')];
  try {
    const deadline = Date.now() + 15_000;
    const ready = async () =>
      ((await probeSentinel.call('SENTINEL', 'REPLICAS', NAME)) as unknown[]).length === 2 &&
      ((await probeMaster.info('replication')).match(/state=online/g) ?? []).length === 2;
    while (!(await ready())) {
      if (Date.now() > deadline) throw new Error('the replicas did not sync, or Sentinel did not find them, within 15 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    probeSentinel.disconnect();
    probeMaster.disconnect();
  }
}, 30_000);

afterAll(async () => {
  await Promise.all([sentinel, ...(replicas ?? []), master].map((server) => server?.stop()));
});

describe('RedisStore behind Sentinel', () => {
  it('a killed master is replaced: confirmed writes, sessions and the log follower carry over', async () => {
    const client = new Redis({
      sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
      name: NAME,
      commandTimeout: 1000,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    client.on('error', () => undefined);
    const store = new RedisStore({ client, prefix: `lks:${randomUUID()}:`, waitForReplicas: { replicas: 1, timeoutMs: 200 } });
    // A guard-like follower of the revocation log, on the store's own blocking connection.
    const seen: RevocationEvent[] = [];
    let following = true;
    let position: string | null = null;
    const follower = (async () => {
      while (following) {
        try {
          const batch = await store.readRevocations(position, { blockMs: 200, count: 100 });
          seen.push(...batch.events);
          position = batch.position;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    })();
    try {
      await store.ready();
      const user = `alice-${randomUUID()}`;
      const kept = newSession(user);
      const ended = newSession(user);
      await store.createSession(kept);
      await store.createSession(ended);
      await store.endSession(ended.key, 'logout', Date.now(), 60_000);
      await expect.poll(() => seen.some((e) => e.kind === 'sid' && e.id === ended.sid), { timeout: 3000, interval: 20 }).toBe(true);

      await master.kill();
      // Sentinel notices after 1 s, promotes a replica, and ioredis asks it for the new master.
      await expect
        .poll(async () => (await store.getSession(kept.key, Date.now()).catch(() => 'unavailable'))?.valueOf(), { timeout: 20_000, interval: 100 })
        .toEqual(kept);
      expect(await store.getSession(ended.key, Date.now())).toBeNull();

      // Writes go to the new master (its other former peer confirms them), and the follower sees them.
      const jti = `jti-${randomUUID()}`;
      await expect
        .poll(
          async () =>
            store.revokeJti(jti, 60_000).then(
              () => 'written',
              () => 'unavailable',
            ),
          { timeout: 15_000, interval: 100 },
        )
        .toBe('written');
      await expect.poll(() => seen.some((e) => e.kind === 'jti' && e.id === jti), { timeout: 5000, interval: 20 }).toBe(true);
    } finally {
      following = false;
      await follower;
      await store.close();
      client.disconnect();
    }
  }, 45_000);
});
