import { isClock, systemClock, type Clock } from '../clock.js';
import { LoginTransactionStore } from './login-transaction-store.js';
import { StoreUnavailableError } from './types.js';
import { MemoryRevocationLog } from './memory-revocation-log.js';
import { assertSessionKeyOf } from './session-key.js';
import { KEY_RING_EVENT_TTL_MS, type ReadRevocationsOptions, type RevocationBatch } from './revocation-feed.js';
import { credentialStanding } from '../session/credential-rule.js';

import type {
  AuthenticationStamp,
  CreateSessionOptions,
  DeviceSessionRecord,
  IdpRenewalClaim,
  IdpRenewalClaimInput,
  IdpTokenUpdate,
  RotateInput,
  RotateResult,
  SessionEndReason,
  SessionStore,
  TransactionSessionStore,
} from './types.js';

export interface MemoryStoreOptions {
  /** Warn (once per process) when used with NODE_ENV=production. Default true. */
  warnInProduction?: boolean;
  /**
   * What "now" is for every expiry this store decides (sessions, tombstones, markers, log entries, useOnce ids,
   * login transactions). Tests pass the TestClock they also give `createBff`; default the system clock.
   */
  clock?: Clock;
}

/** How often expired entries are swept, so memory tracks live entries even when nobody reads them. */
const SWEEP_INTERVAL_MS = 30_000;

let warnedInProduction = false;

interface Tombstone {
  reason: SessionEndReason;
  expiresAt: number;
}

interface UserMarker {
  revokedAfter: number;
  expiresAt: number;
}

const isExpired = (record: DeviceSessionRecord, now: number): boolean => now >= record.idleExpiresAt || now >= record.absoluteExpiresAt;

/** Which end an expired session reached (the absolute one when both). */
const expiryReason = (record: DeviceSessionRecord, now: number): 'idle' | 'absolute' => (now >= record.absoluteExpiresAt ? 'absolute' : 'idle');

const idpSidKey = (record: DeviceSessionRecord): string | null => (record.idp?.sid ? `${record.idp.iss}\n${record.idp.sid}` : null);

const oldestFirst = (a: DeviceSessionRecord, b: DeviceSessionRecord): number => a.createdAt - b.createdAt || (a.sid < b.sid ? -1 : a.sid > b.sid ? 1 : 0);

/** 0 for a session never refreshed since its login (generation 0), 1 for one a device has used again. */
const everRefreshed = (record: DeviceSessionRecord): number => (record.generation > 0 ? 1 : 0);

/**
 * The per-user cap's eviction order (the Redis script's too): never-refreshed sessions first (forced or abandoned
 * sign-ins, see SessionLimits), then the least recently active, then the oldest.
 */
const evictionOrder = (a: DeviceSessionRecord, b: DeviceSessionRecord): number =>
  everRefreshed(a) - everRefreshed(b) || a.lastActivityAt - b.lastActivityAt || oldestFirst(a, b);

/**
 * The embedded development store: per process, gone on restart, so not for production behind
 * more than one instance. Same semantics as the Redis store (the shared contract suite checks both).
 *
 * Each operation runs synchronously inside its async method, so operations never interleave
 * (the single-threaded counterpart of the Redis store's Lua scripts). Entries expire on the store's
 * clock (real time unless a test passes its own), as Redis keys do: sessions and their index entries at
 * the session's absolute end; tombstones when the session would have idled out (the earlier of its idle
 * and absolute ends, as of when it ended); markers and log entries after their TTL. Expired entries are
 * dropped when touched and by a periodic sweep.
 */
export class MemoryStore implements SessionStore {
  private readonly sessions = new Map<string, DeviceSessionRecord>();
  private readonly keyBySid = new Map<string, string>();
  private readonly keysByUser = new Map<string, Set<string>>();
  private readonly tombstones = new Map<string, Tombstone>();
  private readonly userMarkers = new Map<string, UserMarker>();
  /** Tenant → keys of its sessions, and its `revoked_after` (admin.revokeTenant). */
  private readonly keysByTenant = new Map<string, Set<string>>();
  private readonly tenantMarkers = new Map<string, UserMarker>();
  /** The global `revoked_after` (admin.revokeAllSessions), kept so it never moves backwards. */
  private globalMarker: UserMarker | undefined;
  /** `iss \n idpSid` → keys of the sessions that IdP session started (back-channel logout). */
  private readonly keysByIdpSid = new Map<string, Set<string>>();
  /** Session key → the live IdP renewal claim (claimIdpRenewal), dropped when written, released or past its lease. */
  private readonly idpRenewals = new Map<string, { holder: string; until: number }>();
  /** useOnce ids → when they expire. */
  private readonly usedOnce = new Map<string, number>();
  /** OIDC login transactions (express-session entries) with their expiry; swept like everything else. */
  private readonly loginTransactions = new Map<string, { value: string; expiresAt: number }>();
  private keyRing: { version: string; sealed: string } | null = null;
  /** Every revocation in order, for guards' local views (see revocation-feed.ts). */
  private readonly revocationLog: MemoryRevocationLog;
  private readonly clock: Clock;
  private readonly sweepTimer: NodeJS.Timeout;
  private closed = false;

  constructor(options: MemoryStoreOptions = {}) {
    if (options.clock !== undefined && !isClock(options.clock)) throw new TypeError('MemoryStore clock must have a now() method');
    this.clock = options.clock ?? systemClock;
    this.revocationLog = new MemoryRevocationLog(this.clock);
    const warnInProduction = options.warnInProduction ?? true;
    if (warnInProduction && process.env.NODE_ENV === 'production' && !warnedInProduction) {
      warnedInProduction = true;
      process.emitWarning('Latchkey MemoryStore is per-process and loses every session on restart; use RedisStore in production.', {
        code: 'LATCHKEY_MEMORY_STORE',
      });
    }
    this.sweepTimer = setInterval(() => this.sweep(this.clock.now()), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  async createSession(session: DeviceSessionRecord, options: CreateSessionOptions = {}): Promise<DeviceSessionRecord[]> {
    this.assertOpen();
    assertSessionKeyOf(session);
    const record = structuredClone(session);
    const existing = this.sessions.get(record.key);
    if (existing) this.unindex(existing);
    const evicted: DeviceSessionRecord[] = [];
    const cap = options.maxSessionsPerUser;
    if (cap !== undefined) {
      // Same order as the Redis script.
      const live = this.liveUserSessions(record.userId, options.now ?? this.clock.now()).sort(evictionOrder);
      for (const victim of live.slice(0, Math.max(0, live.length - cap + 1))) {
        this.end(victim, 'cap_evicted', options.markerTtlMs ?? 0);
        evicted.push(structuredClone(victim));
      }
    }
    this.sessions.set(record.key, record);
    this.keyBySid.set(record.sid, record.key);
    let keys = this.keysByUser.get(record.userId);
    if (!keys) this.keysByUser.set(record.userId, (keys = new Set()));
    keys.add(record.key);
    const idpKey = idpSidKey(record);
    if (idpKey !== null) {
      let linked = this.keysByIdpSid.get(idpKey);
      if (!linked) this.keysByIdpSid.set(idpKey, (linked = new Set()));
      linked.add(record.key);
    }
    if (record.tenant !== undefined) {
      let tenantKeys = this.keysByTenant.get(record.tenant);
      if (!tenantKeys) this.keysByTenant.set(record.tenant, (tenantKeys = new Set()));
      tenantKeys.add(record.key);
    }
    this.tombstones.delete(record.key);
    const logTtlMs = options.logTtlMs ?? 0;
    if (logTtlMs > 0) {
      this.revocationLog.append({ kind: 'session', id: record.sid, userId: record.userId, expiresAt: this.clock.now() + logTtlMs });
    }
    return evicted.sort(oldestFirst);
  }

  async getSession(key: string, now: number): Promise<DeviceSessionRecord | null> {
    this.assertOpen();
    const record = this.storedSession(key);
    return record && !isExpired(record, now) ? structuredClone(record) : null;
  }

  async rotate(input: RotateInput): Promise<RotateResult> {
    this.assertOpen();
    const record = this.storedSession(input.key);
    if (!record) return { outcome: 'ended', reason: this.tombstoneReason(input.key) };
    if (isExpired(record, input.now)) {
      const reason = expiryReason(record, input.now);
      this.end(record, reason, input.markerTtlMs);
      return { outcome: 'expired', reason, session: structuredClone(record) };
    }

    const standing = credentialStanding(record, input, input.now);
    if (standing === 'mismatch') return { outcome: 'mismatch' };
    if (standing === 'current') {
      record.previousHash = record.credentialHash;
      record.credentialHash = input.nextCredentialHash;
      record.generation += 1;
      record.successorSealed = input.nextSealed;
      record.graceUntil = input.now + input.graceMs;
      record.rotatedAt = input.now;
      // Activity never moves backwards, nor past now; a rotation alone does not move it (idle timeout, ASVS 7.3.1).
      record.lastActivityAt = Math.min(input.now, Math.max(record.lastActivityAt, input.activityAt));
      record.idleExpiresAt = Math.min(record.lastActivityAt + input.idleTimeoutMs, record.absoluteExpiresAt);
      return { outcome: 'rotated', session: structuredClone(record) };
    }
    if (standing === 'previous') return { outcome: 'replayed', session: structuredClone(record), sealed: record.successorSealed! };

    // A superseded credential whose successor is already in use (or out of grace): theft.
    this.end(record, 'reuse_detected', input.markerTtlMs);
    return { outcome: 'reuse_detected', session: structuredClone(record) };
  }

  async listUserSessions(userId: string, now: number, limit?: number): Promise<DeviceSessionRecord[]> {
    this.assertOpen();
    let live = this.liveUserSessions(userId, now);
    // The newest by absolute end, as the Redis index orders them.
    if (limit !== undefined) live = live.sort((a, b) => b.absoluteExpiresAt - a.absoluteExpiresAt).slice(0, limit);
    return live.map((record) => structuredClone(record)).sort(oldestFirst);
  }

  async endSession(key: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord | null> {
    this.assertOpen();
    const record = this.storedSession(key);
    return record ? this.endIfLive(record, reason, now, markerTtlMs) : null;
  }

  async endUserSessionBySid(userId: string, sid: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord | null> {
    this.assertOpen();
    const key = this.keyBySid.get(sid);
    const record = key === undefined ? undefined : this.storedSession(key);
    if (!record || record.userId !== userId) return null;
    return this.endIfLive(record, reason, now, markerTtlMs);
  }

  async endAllUserSessions(userId: string, reason: SessionEndReason, revokedAfter: number, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]> {
    this.assertOpen();
    const ended: DeviceSessionRecord[] = [];
    for (const key of [...(this.keysByUser.get(userId) ?? [])]) {
      const record = this.storedSession(key);
      if (!record) continue;
      if (isExpired(record, now)) {
        this.end(record, expiryReason(record, now), 0);
      } else {
        this.end(record, reason, markerTtlMs);
        ended.push(structuredClone(record));
      }
    }
    if (markerTtlMs > 0) {
      const expiresAt = this.clock.now() + markerTtlMs;
      const current = this.liveUserMarker(userId);
      const marker = {
        revokedAfter: current ? Math.max(current.revokedAfter, revokedAfter) : revokedAfter,
        expiresAt: current && current.revokedAfter >= revokedAfter ? Math.max(current.expiresAt, expiresAt) : expiresAt,
      };
      this.userMarkers.set(userId, marker);
      this.revocationLog.append({ kind: 'user', id: userId, ...marker });
    }
    return ended.sort(oldestFirst);
  }

  async endOtherUserSessions(userId: string, keepKey: string, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[] | null> {
    this.assertOpen();
    const live = this.liveUserSessions(userId, now);
    if (!live.some((record) => record.key === keepKey)) return null;
    const ended: DeviceSessionRecord[] = [];
    for (const record of live) {
      if (record.key === keepKey) continue;
      this.end(record, 'logout_others', markerTtlMs);
      ended.push(structuredClone(record));
    }
    return ended.sort(oldestFirst);
  }

  async revokeAllSessions(revokedAfter: number, now: number, markerTtlMs: number): Promise<number> {
    this.assertOpen();
    if (markerTtlMs > 0) {
      this.globalMarker = raisedMarker(this.liveGlobalMarker(), revokedAfter, this.clock.now() + markerTtlMs);
      this.revocationLog.append({ kind: 'all', id: '*', ...this.globalMarker });
    }
    let ended = 0;
    for (const record of [...this.sessions.values()]) {
      if (this.storedSession(record.key) && this.endIfLive(record, 'all_revoked', now, markerTtlMs)) ended++;
    }
    return ended;
  }

  async revokeTenant(tenant: string, revokedAfter: number, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]> {
    this.assertOpen();
    if (markerTtlMs > 0) {
      const marker = raisedMarker(liveMarker(this.tenantMarkers, tenant, this.clock.now()), revokedAfter, this.clock.now() + markerTtlMs);
      this.tenantMarkers.set(tenant, marker);
      this.revocationLog.append({ kind: 'tenant', id: tenant, ...marker });
    }
    const ended: DeviceSessionRecord[] = [];
    for (const key of [...(this.keysByTenant.get(tenant) ?? [])]) {
      const record = this.storedSession(key);
      if (!record || record.tenant !== tenant) continue;
      const done = this.endIfLive(record, 'tenant_revoked', now, markerTtlMs);
      if (done) ended.push(done);
    }
    return ended.sort(oldestFirst);
  }

  async endSessionsByIdpSid(iss: string, idpSid: string, reason: SessionEndReason, now: number, markerTtlMs: number): Promise<DeviceSessionRecord[]> {
    this.assertOpen();
    const ended: DeviceSessionRecord[] = [];
    for (const key of [...(this.keysByIdpSid.get(`${iss}\n${idpSid}`) ?? [])]) {
      const record = this.storedSession(key);
      if (!record || record.idp?.iss !== iss || record.idp.sid !== idpSid) continue;
      const done = this.endIfLive(record, reason, now, markerTtlMs);
      if (done) ended.push(done);
    }
    return ended.sort(oldestFirst);
  }

  async restampSession(userId: string, sid: string, stamp: AuthenticationStamp, now: number): Promise<DeviceSessionRecord | null> {
    this.assertOpen();
    const key = this.keyBySid.get(sid);
    const record = key === undefined ? undefined : this.storedSession(key);
    if (!record || record.userId !== userId || isExpired(record, now)) return null;
    record.authTime = stamp.authTime;
    delete record.acr;
    delete record.amr;
    if (stamp.acr !== undefined) record.acr = stamp.acr;
    if (stamp.amr !== undefined) record.amr = [...stamp.amr];
    if (stamp.idp && record.idp) {
      // As updateIdpTokens: the new tokens replace the old (an access token not given is dropped), ending any renewal claim.
      const { accessTokenSealed, ...rest } = structuredClone(stamp.idp);
      const { accessTokenSealed: _previous, ...kept } = record.idp;
      record.idp = { ...kept, ...rest, ...(accessTokenSealed ? { accessTokenSealed } : {}) };
      this.idpRenewals.delete(record.key);
    }
    return structuredClone(record);
  }

  async updateIdpTokens(key: string, update: IdpTokenUpdate, now: number): Promise<boolean> {
    this.assertOpen();
    const record = this.storedSession(key);
    if (!record?.idp || isExpired(record, now)) return false;
    const { accessTokenSealed, ...rest } = structuredClone(update);
    // As in Redis: an update replaces every token field, and one it leaves out (no access token) is removed.
    const { accessTokenSealed: _previous, ...kept } = record.idp;
    record.idp = { ...kept, ...rest, ...(accessTokenSealed ? { accessTokenSealed } : {}) };
    this.idpRenewals.delete(key);
    return true;
  }

  async claimIdpRenewal(key: string, claim: IdpRenewalClaimInput): Promise<IdpRenewalClaim> {
    this.assertOpen();
    const record = this.storedSession(key);
    if (!record?.idp || isExpired(record, claim.now)) return 'gone';
    if (record.idp.accessExpiresAt !== claim.seenAccessExpiresAt) return 'changed';
    const held = this.idpRenewals.get(key);
    if (held && held.until > claim.now) return 'busy';
    this.idpRenewals.set(key, { holder: claim.holder, until: claim.now + claim.leaseMs });
    return 'claimed';
  }

  async releaseIdpRenewal(key: string, holder: string): Promise<void> {
    this.assertOpen();
    if (this.idpRenewals.get(key)?.holder === holder) this.idpRenewals.delete(key);
  }

  async useOnce(id: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    const now = this.clock.now();
    const expiresAt = this.usedOnce.get(id);
    if (expiresAt !== undefined && now < expiresAt) return false;
    this.usedOnce.set(id, now + Math.max(1, ttlMs));
    return true;
  }

  /** Per process, like this store; entries expire with the transaction cookie and are swept. */
  createLoginTransactionStore(prefix: string): TransactionSessionStore {
    return new LoginTransactionStore({
      keyOf: (id) => `${prefix}:${id}`,
      get: async (key) => {
        this.assertOpen();
        const entry = this.loginTransactions.get(key);
        if (entry && this.clock.now() >= entry.expiresAt) this.loginTransactions.delete(key);
        return entry && this.clock.now() < entry.expiresAt ? entry.value : null;
      },
      set: async (key, value, ttlMs) => {
        this.assertOpen();
        this.loginTransactions.set(key, { value, expiresAt: this.clock.now() + ttlMs });
      },
      destroy: async (key) => {
        this.assertOpen();
        this.loginTransactions.delete(key);
      },
    });
  }

  async revokeJti(jti: string, ttlMs: number): Promise<void> {
    this.assertOpen();
    if (ttlMs > 0) {
      this.revocationLog.append({ kind: 'jti', id: jti, expiresAt: this.clock.now() + ttlMs });
    }
  }

  async readRevocations(after: string | null, options: ReadRevocationsOptions): Promise<RevocationBatch> {
    this.assertOpen();
    return this.revocationLog.read(after, options);
  }

  async getKeyRing(): Promise<{ version: string; sealed: string } | null> {
    this.assertOpen();
    return this.keyRing ? { ...this.keyRing } : null;
  }

  async putKeyRing(expectedVersion: string | null, next: { version: string; sealed: string }): Promise<boolean> {
    this.assertOpen();
    if ((this.keyRing?.version ?? null) !== expectedVersion) return false;
    this.keyRing = { version: next.version, sealed: next.sealed };
    this.revocationLog.append({ kind: 'keyring', id: next.version, expiresAt: this.clock.now() + KEY_RING_EVENT_TTL_MS });
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweepTimer);
    this.revocationLog.wakeAll();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreUnavailableError('MemoryStore is closed');
  }

  /** The stored session (live or idle-expired) unless it is past its absolute end on the store's clock, like a Redis key. */
  private storedSession(key: string): DeviceSessionRecord | undefined {
    const record = this.sessions.get(key);
    if (record && this.clock.now() >= record.absoluteExpiresAt) {
      this.unindex(record);
      return undefined;
    }
    return record;
  }

  /** The user's live sessions (stored records, not copies); expired ones are ended as `idle` or `absolute`. */
  private liveUserSessions(userId: string, now: number): DeviceSessionRecord[] {
    const live: DeviceSessionRecord[] = [];
    for (const key of [...(this.keysByUser.get(userId) ?? [])]) {
      const record = this.storedSession(key);
      if (!record) continue;
      if (isExpired(record, now)) this.end(record, expiryReason(record, now), 0);
      else live.push(record);
    }
    return live;
  }

  private endIfLive(record: DeviceSessionRecord, reason: SessionEndReason, now: number, markerTtlMs: number): DeviceSessionRecord | null {
    if (isExpired(record, now)) {
      this.end(record, expiryReason(record, now), 0);
      return null;
    }
    this.end(record, reason, markerTtlMs);
    return structuredClone(record);
  }

  /**
   * Deletes the session, remembers why (a tombstone) until the earlier of its idle and absolute ends, and
   * (markerTtlMs > 0) marks its sid revoked; the log event says why, for event streams and the operators' feed.
   */
  private end(record: DeviceSessionRecord, reason: SessionEndReason, markerTtlMs: number): void {
    this.unindex(record);
    // Until the session would have idled out anyway (see the Redis script): ended sessions must not pile up.
    this.tombstones.set(record.key, { reason, expiresAt: Math.min(record.idleExpiresAt, record.absoluteExpiresAt) });
    if (markerTtlMs > 0) {
      this.revocationLog.append({ kind: 'sid', id: record.sid, userId: record.userId, reason, expiresAt: this.clock.now() + markerTtlMs });
    }
  }

  private unindex(record: DeviceSessionRecord): void {
    this.sessions.delete(record.key);
    if (this.keyBySid.get(record.sid) === record.key) this.keyBySid.delete(record.sid);
    const keys = this.keysByUser.get(record.userId);
    keys?.delete(record.key);
    if (keys?.size === 0) this.keysByUser.delete(record.userId);
    const idpKey = idpSidKey(record);
    if (idpKey !== null) {
      const linked = this.keysByIdpSid.get(idpKey);
      linked?.delete(record.key);
      if (linked?.size === 0) this.keysByIdpSid.delete(idpKey);
    }
    if (record.tenant !== undefined) {
      const tenantKeys = this.keysByTenant.get(record.tenant);
      tenantKeys?.delete(record.key);
      if (tenantKeys?.size === 0) this.keysByTenant.delete(record.tenant);
    }
  }

  private tombstoneReason(key: string): SessionEndReason | null {
    const tombstone = this.tombstones.get(key);
    if (!tombstone) return null;
    if (this.clock.now() >= tombstone.expiresAt) {
      this.tombstones.delete(key);
      return null;
    }
    return tombstone.reason;
  }

  private liveUserMarker(userId: string): UserMarker | undefined {
    const marker = this.userMarkers.get(userId);
    if (marker && this.clock.now() >= marker.expiresAt) {
      this.userMarkers.delete(userId);
      return undefined;
    }
    return marker;
  }

  private liveGlobalMarker(): UserMarker | undefined {
    if (this.globalMarker && this.clock.now() >= this.globalMarker.expiresAt) this.globalMarker = undefined;
    return this.globalMarker;
  }

  /** Drops everything past its end as of `now` (the store's clock); idle-expired sessions become `idle` tombstones. */
  private sweep(now: number): void {
    for (const record of [...this.sessions.values()]) {
      if (now >= record.absoluteExpiresAt) this.unindex(record);
      else if (now >= record.idleExpiresAt) this.end(record, 'idle', 0);
    }
    for (const [key, tombstone] of this.tombstones) if (now >= tombstone.expiresAt) this.tombstones.delete(key);
    for (const [userId, marker] of this.userMarkers) if (now >= marker.expiresAt) this.userMarkers.delete(userId);
    for (const [tenant, marker] of this.tenantMarkers) if (now >= marker.expiresAt) this.tenantMarkers.delete(tenant);
    if (this.globalMarker && now >= this.globalMarker.expiresAt) this.globalMarker = undefined;
    for (const [id, expiresAt] of this.usedOnce) if (now >= expiresAt) this.usedOnce.delete(id);
    for (const [key, claim] of this.idpRenewals) if (now >= claim.until) this.idpRenewals.delete(key);
    for (const [key, entry] of this.loginTransactions) if (now >= entry.expiresAt) this.loginTransactions.delete(key);
    this.revocationLog.prune(now);
  }
}

/** The marker under `id` unless it has expired as of `now` (then dropped). */
function liveMarker(markers: Map<string, UserMarker>, id: string, now: number): UserMarker | undefined {
  const marker = markers.get(id);
  if (marker && now >= marker.expiresAt) {
    markers.delete(id);
    return undefined;
  }
  return marker;
}

/** `revoked_after` never moves backwards; a marker that keeps its value keeps the longer of the two lifetimes. */
function raisedMarker(current: UserMarker | undefined, revokedAfter: number, expiresAt: number): UserMarker {
  return {
    revokedAfter: current ? Math.max(current.revokedAfter, revokedAfter) : revokedAfter,
    expiresAt: current && current.revokedAfter >= revokedAfter ? Math.max(current.expiresAt, expiresAt) : expiresAt,
  };
}
