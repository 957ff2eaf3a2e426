/**
 * The Redis store on a Cluster with two replicas per master (so one is left to confirm writes after a failover):
 * `waitForReplicas` refuses a write no replica confirmed, and a master killed after confirmed writes leaves nothing
 * behind when a replica takes over.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { masterOfUser } from '../helpers/cluster-slots.js';
import { type RedisCluster, startRedisCluster } from '@latchkey/testkit';
import { newSession, revocationState } from './contract.js';

let cluster: RedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 2 });
}, 30_000);

afterAll(async () => {
  await cluster?.stop();
});

const PREFIX = 'lkf:';
const open = () => RedisStore.connect({ clusterNodes: [cluster.url], prefix: PREFIX, waitForReplicas: { replicas: 1, timeoutMs: 200 } });

const rotation = (s: ReturnType<typeof newSession>, generation: number, credentialHash: string, next: string) => ({
  key: s.key,
  generation,
  credentialHash,
  nextCredentialHash: next,
  nextSealed: `sealed-${next}`,
  now: Date.now(),
  activityAt: Date.now(),
  idleTimeoutMs: 60_000,
  graceMs: 15_000,
  markerTtlMs: 60_000,
});

/** replicas[i] replicates nodes[i % masters]. */
const replicasOf = (master: { port: number }) => {
  const index = cluster.nodes.findIndex((n) => n.port === master.port);
  return cluster.replicas.filter((_, i) => i % cluster.nodes.length === index);
};

describe('RedisStore on a Cluster with replicas', () => {
  it('waitForReplicas: a write no replica confirms fails with StoreUnavailableError; the retry is safe', async () => {
    const store = await open();
    try {
      const user = `alice-${randomUUID()}`;
      const s = newSession(user);
      await store.createSession(s);
      const replicas = replicasOf(await masterOfUser(cluster, user, PREFIX));
      expect(replicas).toHaveLength(2);
      for (const replica of replicas) replica.pause();
      let failure: unknown;
      try {
        failure = await store.rotate(rotation(s, 0, s.credentialHash, 'h1')).catch((error: unknown) => error);
      } finally {
        for (const replica of replicas) replica.resume();
      }
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      expect((failure as Error).message).toMatch(/0 of 1 replicas confirmed/);
      // The master did rotate; the client, which got 503, retries with its cookie and gets that same successor.
      const retry = await store.rotate(rotation(s, 0, s.credentialHash, 'h2'));
      expect(retry).toMatchObject({ outcome: 'replayed', sealed: 'sealed-h1' });
    } finally {
      await store.close();
    }
  });

  it('a master killed right after confirmed writes: its replica takes over with every session and revocation', async () => {
    const store = await open();
    try {
      const user = `bob-${randomUUID()}`;
      const kept = newSession(user);
      const ended = newSession(user);
      await store.createSession(kept);
      await store.createSession(ended);
      const rotated = await store.rotate(rotation(kept, 0, kept.credentialHash, 'k1'));
      expect(rotated.outcome).toBe('rotated');
      await store.endSession(ended.key, 'logout', Date.now(), 60_000);
      await store.revokeJti(`jti-${user}`, 60_000);

      const master = await masterOfUser(cluster, user, PREFIX);
      await master.kill();
      await cluster.waitForFailover(master);

      // ioredis finds the new master; until it does, calls fail with StoreUnavailableError (503), never a wrong answer.
      await expect
        .poll(async () => (await store.getSession(kept.key, Date.now()).catch(() => 'unavailable'))?.valueOf(), { timeout: 15_000, interval: 100 })
        .toMatchObject({ generation: 1, credentialHash: 'k1' });
      expect(await store.getSession(ended.key, Date.now())).toBeNull();
      expect(await revocationState(store, `jti-${user}`, ended.sid, user)).toMatchObject({ jtiRevoked: true, sidRevoked: true });
      // Writes resume once the remaining replica follows the new master (until then they fail with 503, and a rotation
      // that did happen is replayed to the retry).
      await expect
        .poll(async () => (await store.rotate(rotation(kept, 1, 'k1', 'k2')).catch(() => ({ outcome: 'unavailable' }))).outcome, {
          timeout: 15_000,
          interval: 100,
        })
        .toMatch(/^(rotated|replayed)$/);
    } finally {
      await store.close();
    }
  }, 40_000);
});
