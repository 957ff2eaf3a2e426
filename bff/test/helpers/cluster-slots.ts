import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import { createRedisKeyLayout } from '../../src/store/redis-keys.js';
import type { RedisCluster, RedisClusterNode } from './redis-cluster.js';

/**
 * The master that holds `userId`'s shard right now, for a store with `prefix` and `shards` (the Cluster defaults:
 * `lk:` and 16), so a test can take down exactly the node a user depends on.
 */
export async function masterOfUser(cluster: RedisCluster, userId: string, prefix = 'lk:', shards = 16): Promise<RedisClusterNode> {
  const keys = createRedisKeyLayout(prefix, shards);
  const slot = calculateSlot(keys.shardPrefixes[keys.shardOfUser(userId)]!);
  const client = new Cluster([...cluster.seeds], { lazyConnect: true });
  try {
    await client.connect();
    const owner = (client.slots[slot] ?? [])[0];
    const node = [...cluster.nodes, ...cluster.replicas].find((n) => `${n.host}:${n.port}` === owner);
    if (!node) throw new Error(`no node owns slot ${slot} (${owner})`);
    return node;
  } finally {
    client.disconnect();
  }
}
