import { Redis } from 'ioredis';
import type { Cluster } from 'ioredis';
import { RedisStore as RateLimitRedisStore } from 'rate-limit-redis';
import type { RedisReply } from 'rate-limit-redis';
import { z } from 'zod';
import {
  CREATE_SESSION,
  END_ALL_USER_SESSIONS,
  END_SESSION,
  END_USER_SESSION_BY_SID,
  LIST_USER_SESSIONS,
  PUT_KEY_RING,
  REVOKE_JTI,
  ROTATE,
} from './redis-scripts.js';
import { StoreUnavailableError } from './types.js';
import type {
  DeviceSessionRecord,
  RotateInput,
  RotateResult,
  SessionEndReason,
  SessionStore,
} from './types.js';
import type { Store as RateLimitStore } from 'express-rate-limit';
import type { ReadRevocationsOptions, RevocationBatch, RevocationEvent } from './revocation-feed.js';

/** Any ioredis client. Scripts touch keys of several slots, so a Cluster client is accepted but not yet supported. */
export type RedisClient = Redis | Cluster;

export interface RedisStoreOptions {
  /** A client the caller owns (and closes). Exactly one of `client` and `url`. */
  client?: RedisClient;
  /** `redis://` or `rediss://` URL; the store creates, owns and closes the client. */
  url?: string;
  /** Prepended to every key, default `lk:`. Must not contain `{` or `}` (they would break hash tags). */
  prefix?: string;
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

const optionsSchema = z
  .strictObject({
    client: z.custom<RedisClient>(looksLikeRedisClient, 'client must be an ioredis Redis or Cluster instance').optional(),
    url: z
      .string()
      .refine((url) => /^rediss?:\/\//.test(url) && URL.canParse(url), 'url must be a redis:// or rediss:// URL')
      .optional(),
    prefix: z.string().min(1).regex(/^[^{}]*$/, 'prefix must not contain { or }').default('lk:'),
    commandTimeoutMs: z.number().int().positive().default(1000),
    connectTimeoutMs: z.number().int().positive().default(10_000),
  })
  .refine((o) => (o.client === undefined) !== (o.url === undefined), 'pass exactly one of client and url');

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
});

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
} as const;

type ScriptName = keyof typeof SCRIPTS;
type ScriptArg = string | number;
type ScriptCommands = Record<ScriptName, (...args: ScriptArg[]) => Promise<unknown>>;

/** Redis PX/PEXPIRE take positive integers; a non-positive TTL means "write no marker". */
const ttlArg = (ms: number): string => String(Math.max(0, Math.ceil(ms)));

/**
 * Session store on Redis (ioredis). Atomic operations run as Lua scripts; see `redis-scripts.ts` for the key layout.
 * A client created from `url` connects lazily and does not queue commands while disconnected, so open the store
 * with `RedisStore.connect(options)` (or `await store.ready()`) before first use.
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
      this.client = new Redis(this.options.url as string, {
        commandTimeout: this.options.commandTimeoutMs,
        maxRetriesPerRequest: 1,
        // A command whose caller already got StoreUnavailableError must not run later, after a reconnect.
        autoResendUnfulfilledCommands: false,
        // Fail fast while disconnected instead of queueing requests behind an outage.
        enableOfflineQueue: false,
        // Keep reconnecting for as long as the process lives, backing off to 2 s.
        retryStrategy: (times) => Math.min(times * 100, 2000),
        lazyConnect: true,
      });
      this.ownsClient = true;
      // Without a listener ioredis prints every connection error; callers see StoreUnavailableError instead.
      this.client.on('error', (error: unknown) => {
        this.lastConnectionError = error;
      });
    }
    for (const [name, definition] of Object.entries(SCRIPTS)) {
      this.client.defineCommand(name, definition);
    }
    this.scripts = this.client as unknown as ScriptCommands;
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
        // A failed first attempt is retried by retryStrategy; 'ready' or the deadline decides.
        client.connect().catch(() => undefined);
      }
    });
  }

  async createSession(session: DeviceSessionRecord): Promise<void> {
    const record = recordSchema.parse(session);
    const fields: string[] = [];
    for (const [field, value] of Object.entries(record)) {
      if (value !== null) fields.push(field, String(value));
    }
    await this.run('createSession', () =>
      this.scripts.latchkeyCreateSession(
        this.sessionKey(record.key),
        this.sidIndexKey(record.sid),
        this.userIndexKey(record.userId),
        this.tombstoneKey(record.key),
        this.options.prefix,
        record.key,
        String(record.absoluteExpiresAt),
        ...fields,
      ),
    );
  }

  async getSession(key: string, now: number): Promise<DeviceSessionRecord | null> {
    const flat = await this.run('getSession', () => this.client.call('HGETALL', this.sessionKey(key)));
    if (!Array.isArray(flat) || flat.length === 0) return null;
    const record = recordFromFlat(flat);
    return isExpired(record, now) ? null : record;
  }

  async rotate(input: RotateInput): Promise<RotateResult> {
    const reply = await this.run('rotate', () =>
      this.scripts.latchkeyRotate(
        this.sessionKey(input.key),
        this.tombstoneKey(input.key),
        this.options.prefix,
        String(input.generation),
        input.credentialHash,
        input.nextCredentialHash,
        input.nextSealed,
        String(input.now),
        String(input.now + input.graceMs),
        String(input.now + input.idleTimeoutMs),
        ttlArg(input.markerTtlMs),
      ),
    );
    return rotateResultFromReply(reply);
  }

  async listUserSessions(userId: string, now: number): Promise<DeviceSessionRecord[]> {
    const reply = await this.run('listUserSessions', () =>
      this.scripts.latchkeyListUserSessions(this.userIndexKey(userId), this.options.prefix, userId, String(now)),
    );
    return recordsFromReply(reply).sort(oldestFirst);
  }

  async endSession(key: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord | null> {
    const reply = await this.run('endSession', () =>
      this.scripts.latchkeyEndSession(this.sessionKey(key), this.options.prefix, reason, String(now), ttlArg(markerTtlMs)),
    );
    return Array.isArray(reply) ? recordFromFlat(reply) : null;
  }

  async endUserSessionBySid(
    userId: string,
    sid: string,
    reason: SessionEndReason,
    now: number,
    markerTtlMs: number,
  ): Promise<DeviceSessionRecord | null> {
    const reply = await this.run('endUserSessionBySid', () =>
      this.scripts.latchkeyEndUserSessionBySid(
        this.sidIndexKey(sid),
        this.options.prefix,
        userId,
        reason,
        String(now),
        ttlArg(markerTtlMs),
      ),
    );
    return Array.isArray(reply) ? recordFromFlat(reply) : null;
  }

  async endAllUserSessions(userId: string, revokedAfter: number, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]> {
    const reply = await this.run('endAllUserSessions', () =>
      this.scripts.latchkeyEndAllUserSessions(
        this.userIndexKey(userId),
        this.userMarkerKey(userId),
        this.options.prefix,
        userId,
        String(revokedAfter),
        String(now),
        ttlArg(markerTtlMs),
      ),
    );
    return recordsFromReply(reply).sort(oldestFirst);
  }

  async revokeJti(jti: string, ttlMs: number): Promise<void> {
    const ttl = ttlArg(ttlMs);
    if (ttl === '0') return; // Already expired: nothing left to deny.
    await this.run('revokeJti', () => this.scripts.latchkeyRevokeJti(`${this.options.prefix}rv:log`, this.options.prefix, jti, ttl));
  }


  async getKeyRing(): Promise<{ version: string; sealed: string } | null> {
    const [version, sealed] = await this.run('getKeyRing', () =>
      this.client.mget(this.keyRingVersionKey(), this.keyRingSealedKey()),
    );
    return version != null && sealed != null ? { version, sealed } : null;
  }

  async putKeyRing(expectedVersion: string | null, next: { version: string; sealed: string }): Promise<boolean> {
    const written = await this.run('putKeyRing', () =>
      this.scripts.latchkeyPutKeyRing(
        this.keyRingVersionKey(),
        this.keyRingSealedKey(),
        expectedVersion === null ? '0' : '1',
        expectedVersion ?? '',
        next.version,
        next.sealed,
        this.options.prefix,
        String(KEY_RING_EVENT_TTL_MS),
      ),
    );
    return written === 1;
  }

  async readRevocations(after: string | null, options: ReadRevocationsOptions): Promise<RevocationBatch> {
    const log = `${this.options.prefix}rv:log`;
    if (options.blockMs <= 0) {
      const reply = await this.run('readRevocations', () =>
        this.client.xrange(log, after === null ? '-' : `(${after}`, '+', 'COUNT', options.count),
      );
      return revocationBatch(reply, after);
    }
    // XREAD BLOCK holds its connection, so it gets one of its own; the deadline allows for the wait.
    const client = this.blockingClient();
    const reply = await this.run(
      'readRevocations',
      () => client.xread('COUNT', options.count, 'BLOCK', options.blockMs, 'STREAMS', log, after ?? '0-0'),
      options.blockMs + this.options.commandTimeoutMs,
    );
    return revocationBatch(reply?.[0]?.[1] ?? [], after);
  }

  private blocking: RedisClient | undefined;

  private blockingClient(): RedisClient {
    if (this.blocking === undefined) {
      const client = (this.client as Redis).duplicate({ lazyConnect: false, enableOfflineQueue: true, commandTimeout: undefined });
      client.on('error', (error: unknown) => {
        this.lastConnectionError = error;
      });
      this.blocking = client;
    }
    return this.blocking;
  }

  createRateLimitStore(prefix: string): RateLimitStore {
    const store = new RateLimitRedisStore({
      prefix: `${this.options.prefix}rl:${prefix}`,
      sendCommand: (command: string, ...args: string[]) =>
        this.run('rateLimit', () => this.client.call(command, ...args)) as Promise<RedisReply>,
    });
    // The constructor preloads its scripts without awaiting them; when Redis is down that rejection would be
    // unhandled. The store retries the load on first use, so the early failure can be ignored.
    store.incrementScriptSha.catch(() => undefined);
    store.getScriptSha.catch(() => undefined);
    return store;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.blocking?.disconnect();
    if (!this.ownsClient) return;
    try {
      if (this.client.status === 'ready') await this.client.quit();
    } catch {
      // Unreachable server: drop the socket below.
    } finally {
      this.client.disconnect();
    }
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

  private sessionKey(key: string): string {
    return `${this.options.prefix}s:${key}`;
  }
  private sidIndexKey(sid: string): string {
    return `${this.options.prefix}sid:${sid}`;
  }
  private tombstoneKey(key: string): string {
    return `${this.options.prefix}ts:${key}`;
  }
  private userIndexKey(userId: string): string {
    return `${this.options.prefix}{u:${userId}}:sessions`;
  }
  private userMarkerKey(userId: string): string {
    return `${this.options.prefix}rv:user:{u:${userId}}`;
  }
  private keyRingVersionKey(): string {
    return `${this.options.prefix}keyring:version`;
  }
  private keyRingSealedKey(): string {
    return `${this.options.prefix}keyring:sealed`;
  }
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

/** Stream entries `[id, [field, value, ...]]` → events; `at` is the entry id's millisecond part (Redis's clock). */
function revocationBatch(entries: Array<[string, string[]]>, after: string | null): RevocationBatch {
  const events: RevocationEvent[] = [];
  for (const [id, flat] of entries) {
    const f = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i]!, flat[i + 1]!);
    const kind = f.get('k');
    const at = Number(id.split('-')[0]);
    const base = { id: f.get('i') ?? '', expiresAt: Number(f.get('x')), at };
    if (kind === 'user') events.push({ kind, ...base, revokedAfter: Number(f.get('r')) });
    else if (kind === 'jti' || kind === 'sid' || kind === 'keyring') events.push({ kind, ...base });
  }
  const last = entries[entries.length - 1];
  return { events, position: last ? last[0] : (after ?? '0-0') };
}
