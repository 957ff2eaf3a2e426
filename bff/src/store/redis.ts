import { Cluster, Redis } from 'ioredis';
import type { ClusterNode } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { sha256 } from '../crypto/hash.js';
import { z } from 'zod';
import {
  CREATE_SESSION,
  END_ALL_USER_SESSIONS,
  END_SESSION,
  END_SESSIONS_BY_IDP_SID,
  END_USER_SESSION_BY_SID,
  LIST_USER_SESSIONS,
  PUT_KEY_RING,
  REVOKE_JTI,
  ROTATE,
  withBell,
  UPDATE_IDP_TOKENS,
  USE_ONCE,
} from './redis-scripts.js';
import type { Store as ExpressSessionStore } from 'express-session';
import { LoginTransactionStore } from './login-transaction-store.js';
import { createRedisKeyLayout, MAX_SHARDS, type RedisKeyLayout } from './redis-keys.js';
import { RedisRevocationLog } from './redis-revocation-log.js';
import { assertSessionKeyOf } from './session-key.js';
import { StoreUnavailableError } from './types.js';
import type {
  CreateSessionOptions,
  DeviceSessionRecord,
  IdpLink,
  IdpTokenUpdate,
  RotateInput,
  RotateResult,
  SessionEndReason,
  SessionStore,
} from './types.js';
import { counterFromLimiter, windowSeconds, type RateLimitCounter, type RateLimitCounterOptions } from './rate-limit-counter.js';
import type { ReadRevocationsOptions, RevocationBatch } from './revocation-feed.js';

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
  ['call', 'defineCommand', 'mget', 'hgetall', 'on', 'once', 'off'].every(
    (method) => typeof (value as Record<string, unknown>)[method] === 'function',
  );

const redisUrl = z
  .string()
  .refine((url) => /^rediss?:\/\//.test(url) && URL.canParse(url), 'must be a redis:// or rediss:// URL');

const optionsSchema = z
  .strictObject({
    client: z.custom<RedisClient>(looksLikeRedisClient, 'client must be an ioredis Redis or Cluster instance').optional(),
    url: redisUrl.optional(),
    clusterNodes: z.array(redisUrl).min(1).optional(),
    prefix: z.string().min(1).regex(/^[^{}]*$/, 'prefix must not contain { or }').default('lk:'),
    shards: z.number().int().min(1).max(MAX_SHARDS).optional(),
    waitForReplicas: z.strictObject({ replicas: z.number().int().min(1), timeoutMs: z.number().int().positive() }).optional(),
    commandTimeoutMs: z.number().int().positive().default(1000),
    connectTimeoutMs: z.number().int().positive().default(10_000),
  })
  .refine(
    (o) => [o.client, o.url, o.clusterNodes].filter((v) => v !== undefined).length === 1,
    'pass exactly one of client, url and clusterNodes',
  )
  .refine(
    (o) => o.waitForReplicas === undefined || o.waitForReplicas.timeoutMs < o.commandTimeoutMs,
    'waitForReplicas.timeoutMs must be shorter than commandTimeoutMs (the connection would give up first)',
  );

type ResolvedOptions = Readonly<z.output<typeof optionsSchema>>;

/** Validated once at createSession: everything written must read back as the same record, and times must be integers for PEXPIREAT. */
const epochMs = z.number().int().nonnegative();
const recordSchema = z.strictObject({
  key: z.string().min(1),
  sid: z.string().min(1),
  userId: z.string().min(1),
  userName: z.string(),
  deviceName: z.string(),
  userAgent: z.string(),
  createdAt: epochMs,
  lastActiveAt: epochMs,
  idleExpiresAt: epochMs,
  absoluteExpiresAt: epochMs,
  generation: z.number().int().nonnegative(),
  credentialHash: z.string().min(1),
  previousHash: z.string().min(1).nullable(),
  successorSealed: z.string().min(1).nullable(),
  graceUntil: epochMs,
  claims: z.record(z.string(), z.json()).optional(),
  idp: z
    .strictObject({
      iss: z.string().min(1),
      sub: z.string().min(1),
      sid: z.string().min(1).nullable(),
      refreshTokenSealed: z.string().min(1).nullable(),
      idTokenSealed: z.string().min(1).nullable(),
      accessExpiresAt: epochMs,
    })
    .optional(),
});

const limitsSchema = z.object({
  maxSessionsPerUser: z.number().int().positive(),
  now: epochMs,
  markerTtlMs: z.number().nonnegative(),
});

/** The hash fields an IdpLink is stored in (flat, so scripts can read `idpIss`/`idpSid` directly). */
const IDP_FIELDS = {
  iss: 'idpIss',
  sub: 'idpSub',
  sid: 'idpSid',
  refreshTokenSealed: 'idpRefreshTokenSealed',
  idTokenSealed: 'idpIdTokenSealed',
  accessExpiresAt: 'idpAccessExpiresAt',
} as const satisfies Record<keyof IdpLink, string>;

/** Script name → number of KEYS; the names are registered on the client with `defineCommand`. */
const SCRIPTS = {
  latchkeyCreateSession: { lua: CREATE_SESSION, numberOfKeys: 4 },
  latchkeyRotate: { lua: ROTATE, numberOfKeys: 2 },
  latchkeyEndSession: { lua: END_SESSION, numberOfKeys: 1 },
  latchkeyEndUserSessionBySid: { lua: END_USER_SESSION_BY_SID, numberOfKeys: 1 },
  latchkeyListUserSessions: { lua: LIST_USER_SESSIONS, numberOfKeys: 1 },
  latchkeyEndAllUserSessions: { lua: END_ALL_USER_SESSIONS, numberOfKeys: 2 },
  latchkeyPutKeyRing: { lua: PUT_KEY_RING, numberOfKeys: 2 },
  latchkeyRevokeJti: { lua: REVOKE_JTI, numberOfKeys: 1 },
  latchkeyEndSessionsByIdpSid: { lua: END_SESSIONS_BY_IDP_SID, numberOfKeys: 1 },
  latchkeyUpdateIdpTokens: { lua: UPDATE_IDP_TOKENS, numberOfKeys: 1 },
  latchkeyUseOnce: { lua: USE_ONCE, numberOfKeys: 1 },
} as const;

type ScriptName = keyof typeof SCRIPTS;
type ScriptArg = string | number;
type ScriptCommands = Record<ScriptName, (...args: ScriptArg[]) => Promise<unknown>>;
/** A pipeline with the scripts on it (ioredis copies `defineCommand`s onto pipelines); a command only queues there. */
type ScriptPipeline = Record<ScriptName, (...args: ScriptArg[]) => unknown> & {
  call(command: string, ...args: ScriptArg[]): unknown;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
};

/** Redis PX/PEXPIRE take positive integers; a non-positive TTL means "write no marker". */
const ttlArg = (ms: number): string => String(Math.max(0, Math.ceil(ms)));

/**
 * Session store on Redis (ioredis): a single node, a Sentinel-managed one, or a Cluster. Atomic operations run as
 * Lua scripts; see `redis-scripts.ts` for what they do and `redis-keys.ts` for the key layout and sharding.
 * A client created from `url` or `clusterNodes` connects lazily and does not queue commands while disconnected,
 * so open the store with `RedisStore.connect(options)` (or `await store.ready()`) before first use.
 */
export class RedisStore implements SessionStore {
  /** Creates the store and waits until its connection is ready; closes it again if that fails. */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const store = new RedisStore(options);
    try {
      await store.ready();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  private readonly options: ResolvedOptions;
  private readonly client: RedisClient;
  private readonly ownsClient: boolean;
  private readonly isCluster: boolean;
  private readonly keys: RedisKeyLayout;
  private readonly log: RedisRevocationLog;
  private readonly scripts: ScriptCommands;
  private lastConnectionError: unknown = undefined;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      throw new TypeError(`Invalid RedisStore options: ${z.prettifyError(parsed.error)}`);
    }
    this.options = Object.freeze(parsed.data);
    if (this.options.client) {
      this.client = this.options.client;
      this.ownsClient = false;
    } else {
      this.client = this.options.url
        ? new Redis(this.options.url, this.connectionOptions())
        : new Cluster(this.options.clusterNodes!.map(clusterNode), {
            lazyConnect: true,
            enableOfflineQueue: false,
            clusterRetryStrategy: retryStrategy,
            redisOptions: this.connectionOptions(),
          });
      this.ownsClient = true;
      this.listenForErrors(this.client);
    }
    this.isCluster = 'isCluster' in this.client && this.client.isCluster === true;
    this.keys = createRedisKeyLayout(this.options.prefix, this.options.shards ?? (this.isCluster ? 16 : 1));
    this.log = new RedisRevocationLog(this.client, this.isCluster, this.keys, (client) => this.listenForErrors(client));
    for (const [name, definition] of Object.entries(SCRIPTS)) {
      this.client.defineCommand(name, { ...definition, lua: withBell(definition.lua, this.isCluster) });
    }
    this.scripts = this.client as unknown as ScriptCommands;
  }

  /** Shared by single-node clients and each node of a Cluster. */
  private connectionOptions() {
    return {
      commandTimeout: this.options.commandTimeoutMs,
      maxRetriesPerRequest: 1,
      // A command whose caller already got StoreUnavailableError must not run later, after a reconnect.
      autoResendUnfulfilledCommands: false,
      // Fail fast while disconnected instead of queueing requests behind an outage.
      enableOfflineQueue: false,
      retryStrategy,
      lazyConnect: true,
    };
  }

  /** Without a listener ioredis prints every connection error; callers see StoreUnavailableError instead. */
  private listenForErrors(client: RedisClient): void {
    client.on('error', (error: unknown) => {
      this.lastConnectionError = error;
    });
  }

  /** Resolves once the connection is ready (connecting a lazy client); rejects with StoreUnavailableError after `connectTimeoutMs`. */
  async ready(): Promise<void> {
    this.assertOpen();
    const client = this.client;
    if (client.status === 'ready') return;
    if (client.status === 'end') throw new StoreUnavailableError('Redis client has been closed', { cause: this.lastConnectionError });
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
        reject(new StoreUnavailableError('Redis connection ended before it became ready', { cause: this.lastConnectionError }));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new StoreUnavailableError(`Redis not ready after ${this.options.connectTimeoutMs} ms`, {
            cause: this.lastConnectionError,
          }),
        );
      }, this.options.connectTimeoutMs);
      client.once('ready', onReady);
      client.once('end', onEnd);
      if (client.status === 'wait') {
        // A failed first attempt is retried by the retry strategy; 'ready' or the deadline decides.
        client.connect().catch(() => undefined);
      }
    });
  }

  async createSession(session: DeviceSessionRecord, options: CreateSessionOptions = {}): Promise<DeviceSessionRecord[]> {
    const record = recordSchema.parse(session);
    assertSessionKeyOf(record);
    const cap = options.maxSessionsPerUser === undefined ? 0 : limitsSchema.parse(options).maxSessionsPerUser;
    const shard = this.keys.shardOfUser(record.userId);
    const fields: string[] = [];
    const { idp, ...plain } = record;
    for (const [field, value] of Object.entries(plain)) {
      if (value === null || value === undefined) continue;
      // `claims` is stored as JSON text; every other field is a string or an integer.
      fields.push(field, field === 'claims' ? JSON.stringify(value) : String(value));
    }
    if (idp) {
      for (const [name, field] of Object.entries(IDP_FIELDS)) {
        const value = idp[name as keyof IdpLink];
        if (value !== null) fields.push(field, String(value));
      }
    }
    const evicted = await this.write('createSession', 'latchkeyCreateSession', [
        this.keys.session(shard, record.key),
        this.keys.sidIndex(shard, record.sid),
        this.keys.userIndex(shard, record.userId),
        this.keys.tombstone(shard, record.key),
        this.keys.shardPrefixes[shard]!,
        record.key,
        String(record.absoluteExpiresAt),
        String(Math.max(0, Math.floor(options.logTtlMs ?? 0))),
        record.sid,
        record.userId,
        String(cap),
        String(options.now ?? 0),
        ttlArg(options.markerTtlMs ?? 0),
        ...fields,
    ]);
    return recordsFromReply(evicted).sort(oldestFirst);
  }

  async getSession(key: string, now: number): Promise<DeviceSessionRecord | null> {
    const shard = this.keys.shardOfSessionKey(key);
    if (shard === null) return null;
    const flat = await this.run('getSession', () => this.client.call('HGETALL', this.keys.session(shard, key)));
    if (!Array.isArray(flat) || flat.length === 0) return null;
    const record = recordFromFlat(flat);
    return isExpired(record, now) ? null : record;
  }

  async rotate(input: RotateInput): Promise<RotateResult> {
    const shard = this.keys.shardOfSessionKey(input.key);
    if (shard === null) return { outcome: 'ended', reason: null };
    const reply = await this.write('rotate', 'latchkeyRotate', [
        this.keys.session(shard, input.key),
        this.keys.tombstone(shard, input.key),
        this.keys.shardPrefixes[shard]!,
        String(input.generation),
        input.credentialHash,
        input.nextCredentialHash,
        input.nextSealed,
        String(input.now),
        String(Math.max(0, Math.ceil(input.graceMs))),
        String(input.now + input.idleTimeoutMs),
        ttlArg(input.markerTtlMs),
    ]);
    return rotateResultFromReply(reply);
  }

  async listUserSessions(userId: string, now: number, limit?: number): Promise<DeviceSessionRecord[]> {
    const shard = this.keys.shardOfUser(userId);
    const bound = limit === undefined ? 0 : z.number().int().positive().parse(limit);
    const reply = await this.run('listUserSessions', () =>
      this.scripts.latchkeyListUserSessions(this.keys.userIndex(shard, userId), this.keys.shardPrefixes[shard]!, userId, String(now), String(bound)),
    );
    return recordsFromReply(reply).sort(oldestFirst);
  }

  async endSession(key: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord | null> {
    const shard = this.keys.shardOfSessionKey(key);
    if (shard === null) return null;
    const reply = await this.write('endSession', 'latchkeyEndSession', [
        this.keys.session(shard, key),
        this.keys.shardPrefixes[shard]!,
        reason,
        String(now),
        ttlArg(markerTtlMs),
    ]);
    return Array.isArray(reply) ? recordFromFlat(reply) : null;
  }

  async endUserSessionBySid(
    userId: string,
    sid: string,
    reason: SessionEndReason,
    now: number,
    markerTtlMs: number,
  ): Promise<DeviceSessionRecord | null> {
    const shard = this.keys.shardOfUser(userId);
    const reply = await this.write('endUserSessionBySid', 'latchkeyEndUserSessionBySid', [
        this.keys.sidIndex(shard, sid),
        this.keys.shardPrefixes[shard]!,
        userId,
        reason,
        String(now),
        ttlArg(markerTtlMs),
    ]);
    return Array.isArray(reply) ? recordFromFlat(reply) : null;
  }

  async endAllUserSessions(userId: string, revokedAfter: number, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]> {
    const shard = this.keys.shardOfUser(userId);
    const reply = await this.write('endAllUserSessions', 'latchkeyEndAllUserSessions', [
        this.keys.userIndex(shard, userId),
        this.keys.userMarker(shard, userId),
        this.keys.shardPrefixes[shard]!,
        userId,
        String(revokedAfter),
        String(now),
        ttlArg(markerTtlMs),
    ]);
    return recordsFromReply(reply).sort(oldestFirst);
  }

  async endSessionsByIdpSid(iss: string, idpSid: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]> {
    // The IdP sid does not name the user, so every shard is asked, each in a script of its own slot.
    const replies = await Promise.all(
      this.keys.shardPrefixes.map((prefix, shard) =>
        this.write('endSessionsByIdpSid', 'latchkeyEndSessionsByIdpSid', [
          this.keys.idpSidIndex(shard, iss, idpSid),
          prefix,
          iss,
          idpSid,
          reason,
          String(now),
          ttlArg(markerTtlMs),
        ]),
      ),
    );
    return replies.flatMap(recordsFromReply).sort(oldestFirst);
  }

  async updateIdpTokens(key: string, update: IdpTokenUpdate, now: number): Promise<boolean> {
    const shard = this.keys.shardOfSessionKey(key);
    if (shard === null) return false;
    const reply = await this.write('updateIdpTokens', 'latchkeyUpdateIdpTokens', [
      this.keys.session(shard, key),
      String(now),
      update.refreshTokenSealed ?? '',
      update.idTokenSealed ?? '',
      String(Math.trunc(update.accessExpiresAt)),
    ]);
    return reply === 1;
  }

  async useOnce(id: string, ttlMs: number): Promise<boolean> {
    const reply = await this.write('useOnce', 'latchkeyUseOnce', [this.keys.usedOnce(id), String(Math.max(1, Math.ceil(ttlMs)))]);
    return reply === 1;
  }

  /** One key per transaction, `<prefix>tx:<name>:<id>`, written with its TTL: fine on a Cluster (one key per command). */
  createLoginTransactionStore(name: string): ExpressSessionStore {
    return new LoginTransactionStore({
      keyOf: (id) => this.keys.loginTransaction(name, id),
      get: (key) => this.run('loginTransaction.get', () => this.client.get(key)),
      set: (key, value, ttlMs) => this.run('loginTransaction.set', () => this.client.set(key, value, 'PX', ttlMs)).then(() => undefined),
      destroy: (key) => this.run('loginTransaction.destroy', () => this.client.del(key)).then(() => undefined),
    });
  }

  async revokeJti(jti: string, ttlMs: number): Promise<void> {
    const ttl = ttlArg(ttlMs);
    if (ttl === '0') return; // Already expired: nothing left to deny.
    const shard = this.keys.shardOfJti(jti);
    await this.write('revokeJti', 'latchkeyRevokeJti', [this.keys.logKeys[shard]!, this.keys.shardPrefixes[shard]!, jti, ttl]);
  }

  async getKeyRing(): Promise<{ version: string; sealed: string } | null> {
    const [version, sealed] = await this.run('getKeyRing', () =>
      this.client.mget(this.keys.keyRingVersion(), this.keys.keyRingSealed()),
    );
    return version != null && sealed != null ? { version, sealed } : null;
  }

  async putKeyRing(expectedVersion: string | null, next: { version: string; sealed: string }): Promise<boolean> {
    const written = await this.write('putKeyRing', 'latchkeyPutKeyRing', [
        this.keys.keyRingVersion(),
        this.keys.keyRingSealed(),
        expectedVersion === null ? '0' : '1',
        expectedVersion ?? '',
        next.version,
        next.sealed,
        this.keys.shardPrefixes[0]!,
        String(KEY_RING_EVENT_TTL_MS),
    ]);
    return written === 1;
  }

  /** See redis-revocation-log.ts. The wait gets its own deadline on top of the command timeout. */
  async readRevocations(after: string | null, options: ReadRevocationsOptions): Promise<RevocationBatch> {
    const deadline = options.blockMs > 0 ? options.blockMs + this.options.commandTimeoutMs : this.options.commandTimeoutMs;
    try {
      return await this.run('readRevocations', () => this.log.read(after, options), deadline);
    } catch (error) {
      // The blocking read may still sit in its connection (a paused Redis keeps the socket open): each retry on that
      // connection would queue behind it, and once Redis wakes they would block one after another.
      if (options.blockMs > 0) this.log.dropBlockingConnection();
      throw error;
    }
  }

  /**
   * rate-limiter-flexible's RateLimiterRedis: one Lua script per change (SET NX with the window's expiry, INCRBY),
   * so a count is raised and read atomically and every key expires with its window. Keys are
   * `<prefix>rl:<name>:<sha256 of the key>`: no user input reaches Redis, nor forms a hash tag. Each is a single key,
   * so on a Cluster ioredis runs the script on the key's master; a `session` counter also carries its session's shard
   * tag, so it lives in the session's slot and fails only with it.
   */
  createRateLimitCounter(options: RateLimitCounterOptions): RateLimitCounter {
    const counter = counterFromLimiter(
      new RateLimiterRedis({
        storeClient: this.client,
        keyPrefix: `${this.options.prefix}rl:${options.name}`,
        points: options.points,
        duration: windowSeconds(options.windowMs),
      }),
    );
    const place = (key: string): string => {
      const shard = options.placement === 'session' ? this.keys.shardOfSessionKey(key) : null;
      const tag = shard === null ? '' : this.keys.shardPrefixes[shard]!.slice(this.options.prefix.length);
      return `${tag}${sha256(key)}`;
    };
    return { add: (key, points) => this.run('rateLimit', () => counter.add(place(key), points)) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.log.close();
    if (!this.ownsClient) return;
    try {
      if (this.client.status === 'ready') await this.client.quit();
    } catch {
      // Unreachable server: drop the socket below.
    } finally {
      this.client.disconnect();
    }
  }

  /**
   * Runs a script that changes state. With `waitForReplicas`, the script and a WAIT go out together on the
   * connection of the key's node, and the write only counts once enough replicas confirm it: replication is
   * asynchronous, so without that, a master that dies right after a write can take the write (a rotation, a logout)
   * with it while the client already holds the answer.
   */
  private async write(operation: string, script: ScriptName, args: ScriptArg[]): Promise<unknown> {
    const acks = this.options.waitForReplicas;
    if (acks === undefined) return this.run(operation, () => this.scripts[script](...args));
    return this.run(
      operation,
      async () => {
        const pipeline = this.client.pipeline() as unknown as ScriptPipeline;
        pipeline[script](...args);
        pipeline.call('WAIT', acks.replicas, acks.timeoutMs);
        const [written, waited] = (await pipeline.exec()) ?? [];
        if (!written || !waited) throw new Error('no reply');
        if (written[0]) throw written[0];
        if (waited[0]) throw waited[0];
        if (Number(waited[1]) < acks.replicas) {
          throw new Error(`${String(waited[1])} of ${acks.replicas} replicas confirmed the write within ${acks.timeoutMs} ms`);
        }
        return written[1];
      },
      this.options.commandTimeoutMs + acks.timeoutMs,
    );
  }

  /** Runs one client call under the store's deadline; every failure becomes StoreUnavailableError. */
  private async run<T>(operation: string, call: () => Promise<T>, timeoutMs = this.options.commandTimeoutMs): Promise<T> {
    this.assertOpen();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([call(), deadline]);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new StoreUnavailableError(`Redis ${operation} failed: ${detail}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('RedisStore is closed');
  }
}

/**
 * Keep reconnecting for as long as the process lives, backing off to 200 ms: a refused connection costs next to
 * nothing, and each retry delay is time the BFF keeps answering 503 after Redis is back.
 */
const retryStrategy = (times: number): number => Math.min(times * 50, 200);

function clusterNode(url: string): ClusterNode {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 6379) };
}


const isExpired = (record: DeviceSessionRecord, now: number): boolean =>
  now >= record.idleExpiresAt || now >= record.absoluteExpiresAt;

const oldestFirst = (a: DeviceSessionRecord, b: DeviceSessionRecord): number =>
  a.createdAt - b.createdAt || (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0);

/** A session hash as returned by HGETALL (flat field/value list) → record. */
function recordFromFlat(flat: unknown): DeviceSessionRecord {
  if (!Array.isArray(flat) || flat.length % 2 !== 0) throw new TypeError('Unexpected session reply from Redis');
  const fields = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
  const text = (name: string): string => {
    const value = fields.get(name);
    if (value === undefined) throw new TypeError(`Session in Redis lacks ${name}`);
    return value;
  };
  const number = (name: string): number => Number(text(name));
  return {
    key: text('key'),
    sid: text('sid'),
    userId: text('userId'),
    userName: text('userName'),
    deviceName: text('deviceName'),
    userAgent: text('userAgent'),
    createdAt: number('createdAt'),
    lastActiveAt: number('lastActiveAt'),
    idleExpiresAt: number('idleExpiresAt'),
    absoluteExpiresAt: number('absoluteExpiresAt'),
    generation: number('generation'),
    credentialHash: text('credentialHash'),
    previousHash: fields.get('previousHash') ?? null,
    successorSealed: fields.get('successorSealed') ?? null,
    graceUntil: number('graceUntil'),
    ...(fields.has('claims') ? { claims: JSON.parse(fields.get('claims')!) as Record<string, unknown> } : {}),
    ...(fields.has(IDP_FIELDS.iss)
      ? {
          idp: {
            iss: text(IDP_FIELDS.iss),
            sub: text(IDP_FIELDS.sub),
            sid: fields.get(IDP_FIELDS.sid) ?? null,
            refreshTokenSealed: fields.get(IDP_FIELDS.refreshTokenSealed) ?? null,
            idTokenSealed: fields.get(IDP_FIELDS.idTokenSealed) ?? null,
            accessExpiresAt: number(IDP_FIELDS.accessExpiresAt),
          },
        }
      : {}),
  };
}

function recordsFromReply(reply: unknown): DeviceSessionRecord[] {
  if (!Array.isArray(reply)) throw new TypeError('Unexpected session list reply from Redis');
  return reply.map(recordFromFlat);
}

const END_REASONS: ReadonlySet<string> = new Set<SessionEndReason>(['logout', 'session_revoked', 'reuse_detected', 'session_expired']);

function rotateResultFromReply(reply: unknown): RotateResult {
  if (!Array.isArray(reply)) throw new TypeError('Unexpected rotate reply from Redis');
  const [outcome, payload, sealed] = reply as [unknown, unknown, unknown];
  switch (outcome) {
    case 'rotated':
      return { outcome, session: recordFromFlat(payload) };
    case 'replayed':
      return { outcome, session: recordFromFlat(payload), sealed: String(sealed) };
    case 'reuse_detected':
      return { outcome, session: recordFromFlat(payload) };
    case 'ended':
      return {
        outcome,
        reason: typeof payload === 'string' && END_REASONS.has(payload) ? (payload as SessionEndReason) : null,
      };
    case 'mismatch':
      return { outcome };
    default:
      throw new TypeError(`Unexpected rotate outcome from Redis: ${String(outcome)}`);
  }
}

/** Key-ring events only wake followers; a guard that starts later loads the ring itself. */
const KEY_RING_EVENT_TTL_MS = 10 * 60_000;
