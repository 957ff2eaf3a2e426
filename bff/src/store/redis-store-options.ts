import type { Cluster, Redis } from 'ioredis';
import { z } from 'zod';
import { MAX_SHARDS } from './redis-keys.js';

/** Any ioredis client: a single node (also behind Sentinel) or a Cluster. */
export type RedisClient = Redis | Cluster;

export interface RedisStoreOptions {
  /** A client the caller owns (and closes). Exactly one of `client`, `url` and `clusterNodes`. */
  client?: RedisClient;
  /** `redis://` or `rediss://` URL of a single node; the store creates, owns and closes the client. */
  url?: string;
  /** `redis://` URLs of some Cluster nodes (one reachable node is enough); the store creates, owns and closes a Cluster client. */
  clusterNodes?: string[];
  /** Prepended to every key, default `lk:`. Must not contain `{` or `}` (they would break hash tags). */
  prefix?: string;
  /**
   * How many shards (Cluster hash tags) sessions and the revocation log are spread over; default 16 on a Cluster,
   * 1 on a single node. Every instance must use the same value, and it must not change while sessions live.
   */
  shards?: number;
  /**
   * Replica acknowledgements every write waits for (Redis WAIT), so nothing the BFF has answered (a rotated cookie,
   * a 204 logout, a revocation) can be lost in a failover. Off by default. A write that fewer replicas confirm within
   * `timeoutMs` fails with StoreUnavailableError (503): it may have happened on the master, and the client's retry
   * is safe (a refresh replays the same successor; a logout is idempotent).
   */
  waitForReplicas?: { replicas: number; timeoutMs: number };
  /** Each store call fails with StoreUnavailableError after this long, default 1000 ms. */
  commandTimeoutMs?: number;
  /** How long `ready()` / `RedisStore.connect()` wait for the connection, default 10 000 ms. */
  connectTimeoutMs?: number;
}

const looksLikeRedisClient = (value: unknown): value is RedisClient =>
  typeof value === 'object' &&
  value !== null &&
  ['call', 'defineCommand', 'mget', 'hgetall', 'on', 'once', 'off'].every((method) => typeof (value as Record<string, unknown>)[method] === 'function');

const redisUrl = z.string().refine((url) => /^rediss?:\/\//.test(url) && URL.canParse(url), 'must be a redis:// or rediss:// URL');

const optionsSchema = z
  .strictObject({
    client: z.custom<RedisClient>(looksLikeRedisClient, 'client must be an ioredis Redis or Cluster instance').optional(),
    url: redisUrl.optional(),
    clusterNodes: z.array(redisUrl).min(1).optional(),
    prefix: z
      .string()
      .min(1)
      .regex(/^[^{}]*$/, 'prefix must not contain { or }')
      .default('lk:'),
    shards: z.number().int().min(1).max(MAX_SHARDS).optional(),
    waitForReplicas: z.strictObject({ replicas: z.number().int().min(1), timeoutMs: z.number().int().positive() }).optional(),
    commandTimeoutMs: z.number().int().positive().default(1000),
    connectTimeoutMs: z.number().int().positive().default(10_000),
  })
  .refine((o) => [o.client, o.url, o.clusterNodes].filter((v) => v !== undefined).length === 1, 'pass exactly one of client, url and clusterNodes')
  .refine(
    (o) => o.waitForReplicas === undefined || o.waitForReplicas.timeoutMs < o.commandTimeoutMs,
    'waitForReplicas.timeoutMs must be shorter than commandTimeoutMs (the connection would give up first)',
  );

export type ResolvedRedisStoreOptions = Readonly<z.output<typeof optionsSchema>>;

/** Validates once; unknown options are rejected. */
export function resolveRedisStoreOptions(options: RedisStoreOptions): ResolvedRedisStoreOptions {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new TypeError(`Invalid RedisStore options: ${z.prettifyError(parsed.error)}`);
  }
  return Object.freeze(parsed.data);
}
