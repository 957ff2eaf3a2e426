import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import type { RedisCluster, RedisClusterNode } from './redis-cluster.js';

/**
 * The node (master, or a promoted replica) that holds `key`'s slot right now, as the cluster itself reports it, so a
 * test can take down exactly the node some data depends on.
 */
export async function nodeOwningKey(cluster: RedisCluster, key: string): Promise<RedisClusterNode> {
  const slot = calculateSlot(key);
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
