import { createConnection } from 'node:net';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startRedisCluster, type RedisCluster, type RedisClusterNode } from '../src/redis-cluster.js';

describe('startRedisCluster', () => {
  let cluster: RedisCluster;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = new Cluster([...cluster.seeds], { lazyConnect: true });
    await client.connect();
  });

  afterAll(async () => {
    // The last test already quit and stopped; this is for a run that failed before it. stop() may run twice.
    if (client && client.status !== 'end') await client.quit();
    await cluster?.stop();
  });

  it('has no replicas unless asked', () => {
    expect(cluster.replicas).toEqual([]);
    expect(cluster.nodes.every((node) => /^[0-9a-f]{40}$/.test(node.id))).toBe(true);
  });

  it('starts three masters on distinct ports', () => {
    expect(cluster.nodes).toHaveLength(3);
    expect(new Set(cluster.nodes.map((node) => node.port)).size).toBe(3);
    expect(cluster.url).toBe(`redis://127.0.0.1:${cluster.nodes[0]!.port}`);
  });

  it('splits the slots like redis-cli, in node order', async () => {
    const slots = await client.cluster('SLOTS');
    const ranges = slots.map(([from, to, owner]) => [from, to, owner?.[1]]).sort((a, b) => a[0]! - b[0]!);
    const [a, b, c] = cluster.nodes.map((node) => node.port);
    expect(ranges).toEqual([
      [0, 5460, a],
      [5461, 10922, b],
      [10923, 16383, c],
    ]);
  });

  it('spreads keys with different hash tags over every master', async () => {
    await cluster.flushAll();
    await Promise.all(Array.from({ length: 100 }, (_, i) => client.set(`{tag-${i}}:key`, String(i))));

    const masters = client.nodes('master');
    expect(masters).toHaveLength(3);
    const sizes = await Promise.all(masters.map((master) => master.dbsize()));
    expect(sizes.every((size) => size > 0)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(100);
    expect(await client.get('{tag-42}:key')).toBe('42');
  });

  it('rejects multi-key commands across slots and accepts them under one hash tag', async () => {
    await expect(client.mset('{x}:a', '1', '{y}:b', '2')).rejects.toThrow(/CROSSSLOT/);
    await expect(client.mset('{t}:a', '1', '{t}:b', '2')).resolves.toBe('OK');
    expect(await client.mget('{t}:a', '{t}:b')).toEqual(['1', '2']);
  });

  it('empties every master on flushAll()', async () => {
    await client.set('{tag-1}:key', '1');
    await cluster.flushAll();
    const sizes = await Promise.all(client.nodes('master').map((master) => master.dbsize()));
    expect(sizes).toEqual([0, 0, 0]);
  });

  // Last, since it ends the shared cluster.
  it('closes every port on stop()', async () => {
    await client.quit();
    await cluster.stop();
    const accepted = await Promise.all(cluster.nodes.map((node) => accepts(node.port)));
    expect(accepted).toEqual([false, false, false]);
  });
});

describe('startRedisCluster with one replica per master', () => {
  let cluster: RedisCluster;
  let client: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    client = new Cluster([...cluster.seeds], { lazyConnect: true });
    await client.connect();
  });

  afterAll(async () => {
    if (client && client.status !== 'end') client.disconnect();
    await cluster?.stop();
  });

  it('starts a synced replica of each master', async () => {
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.replicas).toHaveLength(3);
    const all = [...cluster.nodes, ...cluster.replicas];
    expect(new Set(all.map((node) => node.port)).size).toBe(6);
    expect(new Set(all.map((node) => node.id)).size).toBe(6);
    const roles = await Promise.all(cluster.replicas.map((replica) => direct(replica, (redis) => redis.role())));
    // ROLE on a replica: ['slave', masterHost, masterPort, state, offset].
    expect(roles.map((role) => [role[0], role[2], role[3]])).toEqual(cluster.nodes.map((master) => ['slave', master.port, 'connected']));
  });

  it('fails a killed master over to its replica, keeping its keys readable and writes working', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `{tag-${i}}:key`);
    await Promise.all(keys.map((key, i) => client.set(key, String(i))));
    // Replication is asynchronous: WAIT on the connections that wrote, so the replica has every key before the kill.
    const acked = await Promise.all(client.nodes('master').map((master) => master.wait(1, 2000)));
    expect(acked).toEqual([1, 1, 1]);

    const dead = cluster.nodes[1]!;
    const slots = (await client.cluster('SLOTS')).find(([, , owner]) => owner?.[1] === dead.port);
    expect(slots).toBeDefined();
    const [first, last] = slots!;
    const movedKeys = keys.filter((key) => calculateSlot(key) >= first && calculateSlot(key) <= last);
    expect(movedKeys.length).toBeGreaterThan(0);

    const killedAt = Date.now();
    await dead.kill();
    const promoted = await cluster.waitForFailover(dead);
    const failoverMs = Date.now() - killedAt;
    console.info(`redis cluster failover: kill -> waitForFailover resolved in ${failoverMs} ms`);
    expect(promoted).toBe(cluster.replicas[1]);
    expect((await direct(promoted, (redis) => redis.role()))[0]).toBe('master');

    // ioredis refreshes its slot map on the errors it gets from the dead node; retry until it follows.
    await eventually(async () => {
      const values = await Promise.all(movedKeys.map((key) => client.get(key)));
      expect(values).toEqual(movedKeys.map((key) => String(keys.indexOf(key))));
    });
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((_, i) => String(i)));
    await eventually(async () => {
      await Promise.all(movedKeys.map((key) => client.set(key, 'after')));
    });
    expect(await Promise.all(movedKeys.map((key) => client.get(key)))).toEqual(movedKeys.map(() => 'after'));
    expect(await direct(promoted, (redis) => redis.dbsize())).toBe(movedKeys.length);
  });

  // Last, since it ends the shared cluster.
  it('closes every port on stop(), including the killed node', async () => {
    client.disconnect();
    await cluster.stop();
    const accepted = await Promise.all([...cluster.nodes, ...cluster.replicas].map((node) => accepts(node.port)));
    expect(accepted).toEqual([false, false, false, false, false, false]);
  });
});

/** One plain connection to `node` for the duration of `use`. */
async function direct<T>(node: RedisClusterNode, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/** Retries `check` every 100 ms until it passes or `timeoutMs` is over (then its last error is thrown). */
async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
