import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { RevocationEvent } from '../store/revocation-feed.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { authenticationOf, issueAccessToken, type IssuedAccessToken } from '../tokens/issue-access-token.js';

/**
 * Access tokens the server itself uses for a device session (proxy mode, server rendering): never sent to the browser.
 *
 * One token per session, signed once and reused until it comes near its expiry, so a proxied call costs no signing.
 * A revoked or ended session never gets one: `get` takes a session the caller resolved live from its cookie (one store
 * read) and refuses it when the local revocation view knows it ended. A cache entry dies with its session: the BFF
 * feeds every event of the revocation log to `onRevocationEvent` (sid: that session's entry; user or tenant
 * `revoked_after`: their entries; key-ring change: all, since an emergency rotation retires the signing key), and every
 * entry also expires with its token. The number of entries is capped (the oldest go first), so memory is bounded by
 * the sessions in use, never by history.
 */
export interface ServerAccessTokens {
  /** A token for this live session: the cached one while it has more than the margin left, else a new one (one signing per session even under concurrent calls). */
  get(session: DeviceSessionRecord): Promise<IssuedAccessToken>;
  /** Drops the entries a revocation event makes stale. */
  onRevocationEvent(event: RevocationEvent): void;
  /** Entries held (tests, metrics). */
  readonly size: number;
}

export interface ServerAccessTokenOptions {
  /** Whether the local revocation view knows the session ended (the guard's `isSessionRevoked`). */
  isRevoked(session: DeviceSessionRecord): boolean;
  /** At most this many cached tokens (default 10 000). */
  maxEntries?: number;
}

interface Entry {
  userId: string;
  tenant: string | undefined;
  /** The session's authentication time the token carries: a re-authentication makes the cached token stale. */
  authTime: number | undefined;
  issued: Promise<IssuedAccessToken>;
  /** Known once signed; until then concurrent callers share `issued`. */
  expiresAt: number | null;
}

/** A cached token is used while it has at least this long left: a quarter of its lifetime, at most 30 s. */
const marginMs = (ttlSeconds: number) => Math.min(30_000, (ttlSeconds * 1000) / 4);

export function createServerAccessTokens(ctx: BffContext, options: ServerAccessTokenOptions): ServerAccessTokens {
  const entries = new Map<string, Entry>();
  const maxEntries = options.maxEntries ?? 10_000;
  const margin = marginMs(ctx.options.tokens.ttlSeconds);

  function mint(session: DeviceSessionRecord): Entry {
    const o = ctx.options.tokens;
    const issued = issueAccessToken({
      keyRing: ctx.keyRing,
      issuer: o.issuer,
      audience: o.audience,
      clientId: o.clientId,
      userId: session.userId,
      sid: session.sid,
      ttlSeconds: o.ttlSeconds,
      notAfterMs: session.absoluteExpiresAt,
      nowMs: ctx.now(),
      maxTokenBytes: o.maxBytes,
      ...(session.claims ? { claims: session.claims } : {}),
      authentication: authenticationOf(session),
    });
    const entry: Entry = { userId: session.userId, tenant: session.tenant, authTime: session.authTime, issued, expiresAt: null };
    issued.then(
      (token) => {
        entry.expiresAt = token.expiresAt;
      },
      () => {
        if (entries.get(session.sid) === entry) entries.delete(session.sid);
      },
    );
    entries.delete(session.sid);
    entries.set(session.sid, entry);
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    return entry;
  }

  function forgetWhere(match: (entry: Entry) => boolean): void {
    for (const [sid, entry] of entries) if (match(entry)) entries.delete(sid);
  }

  return {
    get(session) {
      const now = ctx.now();
      if (options.isRevoked(session)) {
        entries.delete(session.sid);
        return Promise.reject(new LatchkeyError('session_revoked'));
      }
      if (session.absoluteExpiresAt <= now || session.idleExpiresAt <= now) {
        entries.delete(session.sid);
        return Promise.reject(new LatchkeyError('session_expired'));
      }
      const cached = entries.get(session.sid);
      // A token the session's end cuts short is renewed as often as any other: its `exp` is the session's end.
      const fresh = cached !== undefined && cached.authTime === session.authTime;
      if (fresh && (cached.expiresAt === null || cached.expiresAt - margin > now)) return cached.issued;
      return mint(session).issued;
    },
    onRevocationEvent(event) {
      switch (event.kind) {
        case 'sid':
          entries.delete(event.id);
          break;
        case 'user':
          forgetWhere((entry) => entry.userId === event.id);
          break;
        case 'tenant':
          forgetWhere((entry) => entry.tenant === event.id);
          break;
        case 'keyring':
          entries.clear();
          break;
        default:
          break;
      }
    },
    get size() {
      return entries.size;
    },
  };
}
