import { createConnection } from 'node:net';
import { Cluster } from 'ioredis';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startRedisCluster, type RedisCluster } from './redis-cluster.js';

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

describe('startRedisCluster', () => {
  it('starts three masters on distinct ports', () => {
    expect(cluster.nodes).toHaveLength(3);
    expect(new Set(cluster.nodes.map((node) => node.port)).size).toBe(3);
    expect(cluster.url).toBe(`redis://127.0.0.1:${cluster.nodes[0]!.port}`);
  });

  it('splits the slots like redis-cli, in node order', async () => {
    const slots = await client.cluster('SLOTS');
    const ranges = slots.map(([from, to, owner]) => [from, to, owner?.[1]]).sort((a, b) => a[0]! - b[0]!);
    const [a, b, c] = cluster.nodes.map((node) => node.port);
    expect(ranges).toEqual([[0, 5460, a], [5461, 10922, b], [10923, 16383, c]]);
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
