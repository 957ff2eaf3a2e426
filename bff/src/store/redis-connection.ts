import { Cluster, Redis } from 'ioredis';
import type { ClusterNode } from 'ioredis';
import type { RedisClient, ResolvedRedisStoreOptions } from './redis-store-options.js';
import { StoreUnavailableError } from './types.js';

/**
 * Keep reconnecting for as long as the process lives, backing off to 200 ms: a refused connection costs next to
 * nothing, and each retry delay is time the BFF keeps answering 503 after Redis is back.
 */
const retryStrategy = (times: number): number => Math.min(times * 50, 200);

function clusterNode(url: string): ClusterNode {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 6379) };
}

/** Shared by single-node clients and each node of a Cluster. */
function connectionOptions(options: ResolvedRedisStoreOptions) {
  return {
    commandTimeout: options.commandTimeoutMs,
    maxRetriesPerRequest: 1,
    // A command whose caller already got StoreUnavailableError must not run later, after a reconnect.
    autoResendUnfulfilledCommands: false,
    // Fail fast while disconnected instead of queueing requests behind an outage.
    enableOfflineQueue: false,
    retryStrategy,
    lazyConnect: true,
  };
}

/** The client the store owns, from `url` or `clusterNodes`: lazy, never queueing while disconnected. */
export function createOwnedClient(options: ResolvedRedisStoreOptions): RedisClient {
  return options.url
    ? new Redis(options.url, connectionOptions(options))
    : new Cluster(options.clusterNodes!.map(clusterNode), {
        lazyConnect: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: retryStrategy,
        redisOptions: connectionOptions(options),
      });
}

/**
 * Resolves once the connection is ready (connecting a lazy client); rejects with StoreUnavailableError after
 * `timeoutMs`. `lastError` says why the connection failed so far, for the error's cause.
 */
export async function waitUntilReady(client: RedisClient, timeoutMs: number, lastError: () => unknown): Promise<void> {
  if (client.status === 'ready') return;
  if (client.status === 'end') throw new StoreUnavailableError('Redis client has been closed', { cause: lastError() });
  await new Promise<void>((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('end', onEnd);
    };
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => {
      cleanup();
      reject(new StoreUnavailableError('Redis connection ended before it became ready', { cause: lastError() }));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new StoreUnavailableError(`Redis not ready after ${timeoutMs} ms`, { cause: lastError() }));
    }, timeoutMs);
    client.once('ready', onReady);
    client.once('end', onEnd);
    if (client.status === 'wait') {
      // A failed first attempt is retried by the retry strategy; 'ready' or the deadline decides.
      client.connect().catch(() => undefined);
    }
  });
}
