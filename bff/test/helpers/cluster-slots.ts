import { nodeOwningKey, type RedisCluster, type RedisClusterNode } from '@latchkey/testkit';
import { createRedisKeyLayout } from '../../src/store/redis-keys.js';

/**
 * The node that holds `userId`'s shard right now, for a store with `prefix` and `shards` (the Cluster defaults:
 * `lk:` and 16), so a test can take down exactly the node a user depends on.
 */
export async function masterOfUser(cluster: RedisCluster, userId: string, prefix = 'lk:', shards = 16): Promise<RedisClusterNode> {
  const keys = createRedisKeyLayout(prefix, shards);
  return nodeOwningKey(cluster, keys.shardPrefixes[keys.shardOfUser(userId)]!);
}
