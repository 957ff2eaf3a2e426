import { RateLimiterRedis } from 'rate-limiter-flexible';
import { z } from 'zod';
import { sha256 } from '../crypto/hash.js';
import { LoginTransactionStore } from './login-transaction-store.js';
import { counterFromLimiter, windowSeconds, type RateLimitCounter, type RateLimitCounterOptions } from './rate-limit-counter.js';
import { createOwnedClient, waitUntilReady } from './redis-connection.js';
import { createRedisKeyLayout, type RedisKeyLayout } from './redis-keys.js';
import { RedisRevocationLog } from './redis-revocation-log.js';
import type { LuaScript, ScriptCall } from './redis-lua-script.js';
import { defineScripts, ttlArg, type ScriptPipeline, type ScriptRunner } from './redis-script-commands.js';
import {
  CREATE_SESSION,
  END_ALL_SESSIONS_BATCH,
  END_ALL_USER_SESSIONS,
  END_OTHER_USER_SESSIONS,
  END_SESSION,
  END_SESSIONS_BY_IDP_SID,
  END_TENANT_SESSIONS,
  END_USER_SESSION_BY_SID,
  LIST_USER_SESSIONS,
  MARK_ALL_REVOKED,
  MARK_TENANT_REVOKED,
  PUT_KEY_RING,
  REVOKE_JTI,
  ROTATE,
  UPDATE_IDP_TOKENS,
  CLAIM_IDP_RENEWAL,
  RELEASE_IDP_RENEWAL,
  RESTAMP_SESSION,
  USE_ONCE,
} from './redis-scripts.js';
import {
  isExpired,
  limitsSchema,
  oldestFirst,
  recordFromFlat,
  recordSchema,
  recordsFromReply,
  recordToFields,
  rotateResultFromReply,
} from './redis-session-codec.js';
import { isScriptFailure, RedisScriptError } from './redis-script-error.js';
import { resolveRedisStoreOptions, type RedisClient, type RedisStoreOptions, type ResolvedRedisStoreOptions } from './redis-store-options.js';
import { KEY_RING_EVENT_TTL_MS, type ReadRevocationsOptions, type RevocationBatch } from './revocation-feed.js';
import { assertSessionKeyOf } from './session-key.js';
import { StoreUnavailableError } from './types.js';
import type {
  CreateSessionOptions,
  DeviceSessionRecord,
  IdpRenewalClaim,
  IdpRenewalClaimInput,
  IdpTokenUpdate,
  AuthenticationStamp,
  RotateInput,
  RotateResult,
  SessionEndReason,
  SessionStore,
  TransactionSessionStore,
} from './types.js';

export type { RedisClient, RedisStoreOptions } from './redis-store-options.js';

/** Sessions one revokeAllSessions script ends at most: a few milliseconds of Redis time, so other clients keep being served. */
const REVOKE_ALL_BATCH = 500;

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

  private readonly options: ResolvedRedisStoreOptions;
  private readonly client: RedisClient;
  private readonly ownsClient: boolean;
  private readonly isCluster: boolean;
  private readonly keys: RedisKeyLayout;
  private readonly log: RedisRevocationLog;
  private readonly scripts: ScriptRunner;
  private lastConnectionError: unknown = undefined;
  private closed = false;

  constructor(options: RedisStoreOptions) {
    this.options = resolveRedisStoreOptions(options);
    if (this.options.client) {
      this.client = this.options.client;
      this.ownsClient = false;
    } else {
      this.client = createOwnedClient(this.options);
      this.ownsClient = true;
      this.listenForErrors(this.client);
    }
    this.isCluster = 'isCluster' in this.client && this.client.isCluster === true;
    this.keys = createRedisKeyLayout(this.options.prefix, this.options.shards ?? (this.isCluster ? 16 : 1));
    this.log = new RedisRevocationLog(this.client, this.isCluster, this.keys, (client) => this.listenForErrors(client));
    this.scripts = defineScripts(this.client, this.isCluster);
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
    await waitUntilReady(this.client, this.options.connectTimeoutMs, () => this.lastConnectionError);
  }

  async createSession(session: DeviceSessionRecord, options: CreateSessionOptions = {}): Promise<DeviceSessionRecord[]> {
    const record = recordSchema.parse(session);
    assertSessionKeyOf(record);
    const cap = options.maxSessionsPerUser === undefined ? 0 : limitsSchema.parse(options).maxSessionsPerUser;
    const shard = this.keys.shardOfUser(record.userId);
    const fields = recordToFields(record);
    const evicted = await this.write('createSession', CREATE_SESSION, {
      keys: {
        session: this.keys.session(shard, record.key),
        sidIndex: this.keys.sidIndex(shard, record.sid),
        userIndex: this.keys.userIndex(shard, record.userId),
        tombstone: this.keys.tombstone(shard, record.key),
      },
      argv: {
        prefix: this.keys.shardPrefixes[shard]!,
        key: record.key,
        absolute: String(record.absoluteExpiresAt),
        logTtl: String(Math.max(0, Math.floor(options.logTtlMs ?? 0))),
        sid: record.sid,
        userId: record.userId,
        cap: String(cap),
        nowStr: String(options.now ?? 0),
        markerTtl: ttlArg(options.markerTtlMs ?? 0),
      },
      rest: fields,
    });
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
    const reply = await this.write('rotate', ROTATE, {
      keys: { session: this.keys.session(shard, input.key), tombstone: this.keys.tombstone(shard, input.key) },
      argv: {
        prefix: this.keys.shardPrefixes[shard]!,
        presentedGen: String(input.generation),
        presentedHash: input.credentialHash,
        nextHash: input.nextCredentialHash,
        nextSealed: input.nextSealed,
        nowStr: String(input.now),
        graceMs: String(Math.max(0, Math.ceil(input.graceMs))),
        activityAt: String(Math.floor(input.activityAt)),
        idleMs: String(Math.max(0, Math.floor(input.idleTimeoutMs))),
        markerTtl: ttlArg(input.markerTtlMs),
      },
    });
    return rotateResultFromReply(reply);
  }

  async listUserSessions(userId: string, now: number, limit?: number): Promise<DeviceSessionRecord[]> {
    const shard = this.keys.shardOfUser(userId);
    const bound = limit === undefined ? 0 : z.number().int().positive().parse(limit);
    const reply = await this.run('listUserSessions', () =>
      this.scripts.run(LIST_USER_SESSIONS, {
        keys: { userIndex: this.keys.userIndex(shard, userId) },
        argv: { prefix: this.keys.shardPrefixes[shard]!, userId, nowStr: String(now), limit: String(bound) },
      }),
    );
    return recordsFromReply(reply).sort(oldestFirst);
  }

  async endSession(key: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord | null> {
    const shard = this.keys.shardOfSessionKey(key);
    if (shard === null) return null;
    const reply = await this.write('endSession', END_SESSION, {
      keys: { session: this.keys.session(shard, key) },
      argv: { prefix: this.keys.shardPrefixes[shard]!, reason, now: String(now), markerTtl: ttlArg(markerTtlMs) },
    });
    return Array.isArray(reply) ? recordFromFlat(reply) : null;
  }

  async endUserSessionBySid(userId: string, sid: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord | null> {
    const shard = this.keys.shardOfUser(userId);
    const reply = await this.write('endUserSessionBySid', END_USER_SESSION_BY_SID, {
      keys: { sidIndex: this.keys.sidIndex(shard, sid) },
      argv: { prefix: this.keys.shardPrefixes[shard]!, userId, reason, now: String(now), markerTtl: ttlArg(markerTtlMs) },
    });
    return Array.isArray(reply) ? recordFromFlat(reply) : null;
  }

  async endAllUserSessions(userId: string, reason: SessionEndReason, revokedAfter: number, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]> {
    const shard = this.keys.shardOfUser(userId);
    const reply = await this.write('endAllUserSessions', END_ALL_USER_SESSIONS, {
      keys: { userIndex: this.keys.userIndex(shard, userId), userMarker: this.keys.userMarker(shard, userId) },
      argv: {
        prefix: this.keys.shardPrefixes[shard]!,
        userId,
        reason,
        revokedAfter: String(revokedAfter),
        nowStr: String(now),
        markerTtl: ttlArg(markerTtlMs),
      },
    });
    return recordsFromReply(reply).sort(oldestFirst);
  }

  async endOtherUserSessions(userId: string, keepKey: string, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[] | null> {
    const shard = this.keys.shardOfSessionKey(keepKey);
    // A session key carries its user's tag: one of another shard is not this user's.
    if (shard === null || shard !== this.keys.shardOfUser(userId)) return null;
    const reply = await this.write('endOtherUserSessions', END_OTHER_USER_SESSIONS, {
      keys: { userIndex: this.keys.userIndex(shard, userId), keep: this.keys.session(shard, keepKey) },
      argv: { prefix: this.keys.shardPrefixes[shard]!, userId, keepKey, nowStr: String(now), markerTtl: ttlArg(markerTtlMs) },
    });
    return Array.isArray(reply) ? recordsFromReply(reply).sort(oldestFirst) : null;
  }

  async revokeAllSessions(revokedAfter: number, now: number, markerTtlMs: number): Promise<number> {
    // The marker first: from then on no older token passes a guard, whatever the sweep below meets.
    if (markerTtlMs > 0) {
      await this.write('revokeAllSessions', MARK_ALL_REVOKED, {
        keys: { marker: this.keys.globalMarker() },
        argv: { prefix: this.keys.shardPrefixes[0]!, revokedAfter: String(revokedAfter), markerTtl: ttlArg(markerTtlMs) },
      });
    }
    // Every shard, in parallel, each in bounded batches (one script each) until its sweep set is empty.
    const counts = await Promise.all(
      this.keys.shardPrefixes.map(async (prefix, shard) => {
        let ended = 0;
        for (let begin = true; ; begin = false) {
          const reply = await this.write('revokeAllSessions', END_ALL_SESSIONS_BATCH, {
            keys: { index: this.keys.allSessions(shard), sweep: this.keys.allSessionsSweep(shard) },
            argv: { prefix, begin: begin ? '1' : '0', now: String(now), markerTtl: ttlArg(markerTtlMs), limit: String(REVOKE_ALL_BATCH) },
          });
          const [batch, left] = z.tuple([z.number(), z.number()]).parse(reply);
          ended += batch;
          if (left === 0) return ended;
        }
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  async revokeTenant(tenant: string, revokedAfter: number, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]> {
    // The marker first: from then on no older token of the tenant passes a guard, whatever the sweep below meets.
    if (markerTtlMs > 0) {
      const shard = this.keys.shardOfTenant(tenant);
      await this.write('revokeTenant', MARK_TENANT_REVOKED, {
        keys: { marker: this.keys.tenantMarker(shard, tenant) },
        argv: { prefix: this.keys.shardPrefixes[shard]!, tenant, revokedAfter: String(revokedAfter), markerTtl: ttlArg(markerTtlMs) },
      });
    }
    // A tenant spans users, hence shards: each ends its share in a script of its own slot.
    const replies = await Promise.all(
      this.keys.shardPrefixes.map((prefix, shard) =>
        this.write('revokeTenant', END_TENANT_SESSIONS, {
          keys: { index: this.keys.tenantIndex(shard, tenant) },
          argv: { prefix, tenant, now: String(now), markerTtl: ttlArg(markerTtlMs) },
        }),
      ),
    );
    return replies.flatMap(recordsFromReply).sort(oldestFirst);
  }

  async endSessionsByIdpSid(iss: string, idpSid: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]> {
    // The IdP sid does not name the user, so every shard is asked, each in a script of its own slot.
    const replies = await Promise.all(
      this.keys.shardPrefixes.map((prefix, shard) =>
        this.write('endSessionsByIdpSid', END_SESSIONS_BY_IDP_SID, {
          keys: { index: this.keys.idpSidIndex(shard, iss, idpSid) },
          argv: { prefix, iss, idpSid, reason, now: String(now), markerTtl: ttlArg(markerTtlMs) },
        }),
      ),
    );
    return replies.flatMap(recordsFromReply).sort(oldestFirst);
  }

  async restampSession(userId: string, sid: string, stamp: AuthenticationStamp, now: number): Promise<DeviceSessionRecord | null> {
    const shard = this.keys.shardOfUser(userId);
    const reply = await this.write('restampSession', RESTAMP_SESSION, {
      keys: { sidIndex: this.keys.sidIndex(shard, sid) },
      argv: {
        prefix: this.keys.shardPrefixes[shard]!,
        userId,
        now: String(now),
        authTime: String(Math.trunc(stamp.authTime)),
        acr: stamp.acr ?? '',
        amr: stamp.amr ? JSON.stringify(stamp.amr) : '',
        hasIdp: stamp.idp ? '1' : '0',
        refreshTokenSealed: stamp.idp?.refreshTokenSealed ?? '',
        idTokenSealed: stamp.idp?.idTokenSealed ?? '',
        accessTokenSealed: stamp.idp?.accessTokenSealed ?? '',
        accessExpiresAt: stamp.idp ? String(Math.trunc(stamp.idp.accessExpiresAt)) : '',
      },
    });
    return Array.isArray(reply) ? recordFromFlat(reply) : null;
  }

  async updateIdpTokens(key: string, update: IdpTokenUpdate, now: number): Promise<boolean> {
    const shard = this.keys.shardOfSessionKey(key);
    if (shard === null) return false;
    const reply = await this.write('updateIdpTokens', UPDATE_IDP_TOKENS, {
      keys: { session: this.keys.session(shard, key) },
      argv: {
        now: String(now),
        refreshTokenSealed: update.refreshTokenSealed ?? '',
        idTokenSealed: update.idTokenSealed ?? '',
        accessTokenSealed: update.accessTokenSealed ?? '',
        accessExpiresAt: String(Math.trunc(update.accessExpiresAt)),
      },
    });
    return reply === 1;
  }

  async claimIdpRenewal(key: string, claim: IdpRenewalClaimInput): Promise<IdpRenewalClaim> {
    const shard = this.keys.shardOfSessionKey(key);
    if (shard === null) return 'gone';
    const reply = await this.write('claimIdpRenewal', CLAIM_IDP_RENEWAL, {
      keys: { session: this.keys.session(shard, key) },
      argv: {
        holder: claim.holder,
        seen: String(Math.trunc(claim.seenAccessExpiresAt)),
        now: String(claim.now),
        leaseUntil: String(Math.trunc(claim.now + claim.leaseMs)),
      },
    });
    if (reply === 'claimed' || reply === 'busy' || reply === 'changed' || reply === 'gone') return reply;
    throw new TypeError('Unexpected claimIdpRenewal reply from Redis');
  }

  async releaseIdpRenewal(key: string, holder: string): Promise<void> {
    const shard = this.keys.shardOfSessionKey(key);
    if (shard === null) return;
    await this.write('releaseIdpRenewal', RELEASE_IDP_RENEWAL, { keys: { session: this.keys.session(shard, key) }, argv: { holder } });
  }

  async useOnce(id: string, ttlMs: number): Promise<boolean> {
    const reply = await this.write('useOnce', USE_ONCE, { keys: { once: this.keys.usedOnce(id) }, argv: { ttlMs: String(Math.max(1, Math.ceil(ttlMs))) } });
    return reply === 1;
  }

  /** One key per transaction, `<prefix>tx:<name>:<id>`, written with its TTL: fine on a Cluster (one key per command). */
  createLoginTransactionStore(name: string): TransactionSessionStore {
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
    await this.write('revokeJti', REVOKE_JTI, { keys: { log: this.keys.logKeys[shard]! }, argv: { prefix: this.keys.shardPrefixes[shard]!, jti, ttl } });
  }

  async getKeyRing(): Promise<{ version: string; sealed: string } | null> {
    const [version, sealed] = await this.run('getKeyRing', () => this.client.mget(this.keys.keyRingVersion(), this.keys.keyRingSealed()));
    return version != null && sealed != null ? { version, sealed } : null;
  }

  async putKeyRing(expectedVersion: string | null, next: { version: string; sealed: string }): Promise<boolean> {
    const written = await this.write('putKeyRing', PUT_KEY_RING, {
      keys: { versionKey: this.keys.keyRingVersion(), sealedKey: this.keys.keyRingSealed() },
      argv: {
        expects: expectedVersion === null ? '0' : '1',
        expectedVersion: expectedVersion ?? '',
        nextVersion: next.version,
        nextSealed: next.sealed,
        logPrefix: this.keys.shardPrefixes[0]!,
        eventTtl: String(KEY_RING_EVENT_TTL_MS),
      },
    });
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
  private async write<K extends string, A extends string>(operation: string, script: LuaScript<K, A>, call: ScriptCall<K, A>): Promise<unknown> {
    const acks = this.options.waitForReplicas;
    if (acks === undefined) return this.run(operation, () => this.scripts.run(script, call));
    return this.run(
      operation,
      async () => {
        const pipeline = this.client.pipeline() as unknown as ScriptPipeline;
        this.scripts.queue(pipeline, script, call);
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

  /** Runs one client call under the store's deadline; every failure becomes StoreUnavailableError, but a script's own error (RedisScriptError). */
  private async run<T>(operation: string, call: () => Promise<T>, timeoutMs = this.options.commandTimeoutMs): Promise<T> {
    this.assertOpen();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([call(), deadline]);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      // A script that fails while Redis answers is a bug, not an outage (a 500, never a 503).
      if (isScriptFailure(error)) throw new RedisScriptError(`Redis ${operation} script failed: ${detail}`, { cause: error });
      throw new StoreUnavailableError(`Redis ${operation} failed: ${detail}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('RedisStore is closed');
  }
}
