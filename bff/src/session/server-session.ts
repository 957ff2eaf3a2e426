import { LRUCache } from 'lru-cache';
import type { PublicSession, PublicUser } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { sha256 } from '../crypto/hash.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { StoreUnavailableError, type DeviceSessionRecord } from '../store/types.js';
import { readCookie } from './cookie.js';
import { resolveSession } from './resolve.js';

/** What `bff.getSession` answers for a live device session: what a page may show, never a credential. */
export interface ServerSession {
  user: PublicUser;
  session: PublicSession;
  /** The application's claims (and `scope`) granted at login, as every access token of the session carries them; `{}` when none. */
  claims: Readonly<Record<string, unknown>>;
}

/** What the reader asks of the revocation view (the guard's, wired in by createBff): the session layer never imports the guard. */
export interface RevocationLookup {
  /** Whether the local view already knows this session ended (sid marker, user or tenant `revoked_after`). */
  isSessionRevoked(sid: string, userId: string, createdAt: number, tenant?: string): boolean;
  /** Whether the view is current enough to vouch for a cached answer (false while it replays, or the store stopped answering). */
  isCurrent(): boolean;
}

interface Entry {
  answer: ServerSession;
  record: DeviceSessionRecord;
  /** Epoch ms after which the entry is not used (cache lifetime, the session's idle and absolute ends, the grace of a previous credential). */
  until: number;
}

/** Cookies answered from memory at most; a cache this size costs a few MB at worst. */
const MAX_ENTRIES = 10_000;

/**
 * The device session a request's cookie holds, read-only, for server rendering (`bff.getSession`): never rotates, never
 * writes the store, never sets a cookie. At most one store read (`resolveSession`); none when a recent answer for the
 * same cookie is cached. A cached answer is used only while:
 * - it is younger than `session.readCacheSeconds`, which never exceeds `session.rotationGraceSeconds`: an answer can outlive a
 *   rotation of its cookie by no more than the grace window that would have accepted that cookie anyway;
 * - the session's idle and absolute ends (as read) and, for the previous credential, its grace have not passed;
 * - the revocation view is current and does not know the session ended: logout, device revoke, logout-all, theft,
 *   tenant and admin revocations all leave a sid or `revoked_after` marker there, checked on every answer;
 * - this process has not ended the session itself (`forget`, called by createBff for every end it makes, so its own
 *   logout is seen before the view's feed delivers it).
 * Only live answers are cached: a missing, forged or ended cookie is not remembered (a forged one costs no store read:
 * its signature fails first).
 */
export class ServerSessionReader {
  private readonly cache: LRUCache<string, Entry>;
  private readonly cacheMs: number;

  constructor(
    private readonly ctx: BffContext,
    private readonly revocations: RevocationLookup,
  ) {
    this.cacheMs = Math.min(ctx.options.session.readCacheSeconds, ctx.options.session.rotationGraceSeconds) * 1000;
    this.cache = new LRUCache({ max: MAX_ENTRIES });
  }

  /** The session of a `Cookie` header, or null. Rejects with LatchkeyError `temporarily_unavailable` when the store cannot answer. */
  async read(cookieHeader: string | undefined | null): Promise<ServerSession | null> {
    return (await this.readRecord(cookieHeader))?.answer ?? null;
  }

  /** `read`, with the stored session record behind the answer (for the server-side access token). */
  async readRecord(cookieHeader: string | undefined | null): Promise<{ answer: ServerSession; record: DeviceSessionRecord } | null> {
    const raw = readCookie(cookieHeader, this.ctx.options.cookie.name);
    if (raw === undefined) return null;
    // Keyed by a hash of the signed cookie value: the credential itself is never a key in memory.
    const cacheKey = this.cacheMs > 0 ? sha256(raw) : null;
    const now = this.ctx.now();
    if (cacheKey !== null) {
      const hit = this.cache.get(cacheKey);
      if (hit !== undefined) {
        if (this.ended(hit.record)) {
          this.cache.delete(cacheKey);
          return null;
        }
        if (hit.until > now && this.revocations.isCurrent()) return hit;
        this.cache.delete(cacheKey);
      }
    }
    let resolved;
    try {
      resolved = await resolveSession(this.ctx, cookieHeader);
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw new LatchkeyError('temporarily_unavailable', undefined, { cause: error });
      throw error;
    }
    if (resolved === null) return null;
    const { session, cookie } = resolved;
    // The store may not have seen a revocation the view knows of (a tenant revocation racing a login, shard by shard).
    if (this.ended(session)) return null;
    const entry: Entry = { answer: toServerSession(session), record: session, until: 0 };
    if (cacheKey !== null) {
      const previous = cookie.generation !== session.generation;
      entry.until = Math.min(now + this.cacheMs, session.idleExpiresAt, session.absoluteExpiresAt, previous ? session.graceUntil : Infinity);
      this.cache.set(cacheKey, entry);
    }
    return entry;
  }

  /** Drops every cached answer for these sessions (this process just ended them). */
  forget(sessions: readonly { sid: string }[]): void {
    if (sessions.length === 0 || this.cache.size === 0) return;
    const sids = new Set(sessions.map((s) => s.sid));
    for (const [key, entry] of this.cache.entries()) if (sids.has(entry.record.sid)) this.cache.delete(key);
  }

  private ended(session: DeviceSessionRecord): boolean {
    return this.revocations.isSessionRevoked(session.sid, session.userId, session.createdAt, session.tenant);
  }
}

export function toServerSession(session: DeviceSessionRecord): ServerSession {
  return {
    user: { id: session.userId, name: session.userName },
    session: { id: session.sid, deviceName: session.deviceName, createdAt: session.createdAt },
    claims: session.claims ?? {},
  };
}
