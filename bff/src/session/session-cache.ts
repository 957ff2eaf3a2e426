import { LRUCache } from 'lru-cache';
import type { BffContext } from '../context.js';
import { sha256 } from '../crypto/hash.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { readCookie } from './cookie.js';
import { resolveSession, type ResolvedSession } from './resolve.js';

/** What the cache asks of the revocation view (the guard's, wired in by createBff): the session layer never imports the guard. */
export interface RevocationLookup {
  /** Whether the local view already knows this session ended (sid marker, user or tenant `revoked_after`). */
  isSessionRevoked(sid: string, userId: string, createdAt: number, tenant?: string): boolean;
  /** Whether the view is current enough to vouch for a cached answer (false while it replays, or the store stopped answering). */
  isCurrent(): boolean;
}

interface Entry {
  resolved: ResolvedSession;
  /** Epoch ms after which the entry is not used (cache lifetime, the session's idle and absolute ends, the grace of a previous credential). */
  until: number;
}

/** Cookies answered from memory at most; a cache this size costs a few MB at worst. */
const MAX_ENTRIES = 10_000;

/**
 * `resolveSession` (the cookie's live device session, read-only) with a short per-process memory, shared by
 * `bff.getSession` / `bff.getAccessToken` and `bff.proxy`. A cached resolution is used only while:
 * - it is younger than `session.readCacheSeconds`, which never exceeds `session.rotationGraceSeconds`: an answer can outlive a
 *   rotation of its cookie by no more than the grace window that would have accepted that cookie anyway;
 * - the session's idle and absolute ends (as read) and, for the previous credential, its grace have not passed;
 * - the revocation view is current and does not know the session ended: logout, device revoke, logout-all, theft,
 *   tenant and admin revocations all leave a sid or `revoked_after` marker there, checked on every answer;
 * - this process has not ended the session itself (`forget`, called for every end the context makes, so its own logout is
 *   seen before the view's feed delivers it), nor rotated this cookie (`drop`).
 * Keyed by a hash of the signed cookie value: the credential itself is never a key in memory. Only live answers the view
 * does not know ended are cached: a missing, forged or ended cookie is not remembered (a forged one costs no store read:
 * its signature fails first). What the caller does with a resolution (rotation when due, activity) is its own: the
 * record is the store's as read, so a schedule computed from it is never later than one computed from a fresh read.
 */
export class SessionReadCache {
  private readonly cache = new LRUCache<string, Entry>({ max: MAX_ENTRIES });
  private readonly cacheMs: number;

  constructor(
    private readonly ctx: BffContext,
    private readonly revocations: RevocationLookup,
  ) {
    this.cacheMs = Math.min(ctx.options.session.readCacheSeconds, ctx.options.session.rotationGraceSeconds) * 1000;
  }

  /**
   * The live session of a `Cookie` header, as `resolveSession` answers it (null: no live session), from memory when a
   * usable entry exists, else with one store read (whose errors, StoreUnavailableError included, are the caller's). A
   * cached session the view now knows ended is null, without a store read.
   */
  async resolve(cookieHeader: string | undefined | null): Promise<ResolvedSession | null> {
    const key = this.keyOf(cookieHeader);
    if (key === undefined) return null;
    if (key !== null) {
      const hit = this.cache.get(key);
      if (hit !== undefined) {
        if (this.ended(hit.resolved.session)) {
          this.cache.delete(key);
          return null;
        }
        if (hit.until > this.ctx.now() && this.revocations.isCurrent()) return hit.resolved;
        this.cache.delete(key);
      }
    }
    const now = this.ctx.now();
    const resolved = await resolveSession(this.ctx, cookieHeader);
    if (resolved === null || key === null || this.ended(resolved.session)) return resolved;
    const { session, cookie } = resolved;
    const previous = cookie.generation !== session.generation;
    const until = Math.min(now + this.cacheMs, session.idleExpiresAt, session.absoluteExpiresAt, previous ? session.graceUntil : Infinity);
    this.cache.set(key, { resolved, until });
    return resolved;
  }

  /** Forgets this cookie's resolution (it was just rotated, or presented to the store's rotation). */
  drop(cookieHeader: string | undefined | null): void {
    if (this.cache.size === 0) return;
    const key = this.keyOf(cookieHeader);
    if (key) this.cache.delete(key);
  }

  /** Drops every cached resolution of these sessions (this process just ended them). */
  forget(sessions: readonly { sid: string }[]): void {
    if (sessions.length === 0 || this.cache.size === 0) return;
    const sids = new Set(sessions.map((s) => s.sid));
    for (const [key, entry] of this.cache.entries()) if (sids.has(entry.resolved.session.sid)) this.cache.delete(key);
  }

  /** Whether the local revocation view knows this session ended. */
  ended(session: DeviceSessionRecord): boolean {
    return this.revocations.isSessionRevoked(session.sid, session.userId, session.createdAt, session.tenant);
  }

  /** undefined: no session cookie; null: caching is off; else the hash of the signed cookie value. */
  private keyOf(cookieHeader: string | undefined | null): string | null | undefined {
    const raw = readCookie(cookieHeader, this.ctx.options.cookie.name);
    if (raw === undefined) return undefined;
    return this.cacheMs > 0 ? sha256(raw) : null;
  }
}
