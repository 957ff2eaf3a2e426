import type { SessionEndReason } from '@latchkey/shared';

/**
 * The revocation log every store keeps beside its markers: one event per revocation, in order, each expiring
 * with the marker it mirrors. Guards replay it from the start to build their local view, then follow it;
 * a guard that lost its connection resumes from its last position, so no event is lost (entries only leave
 * the log once every token they could reject has expired).
 */
export type RevocationEvent =
  | { kind: 'jti'; id: string; expiresAt: number; at: number }
  /**
   * A device session ended (`id`: its sid). `userId` and `reason` tell event streams whom to tell and why; events
   * written before they existed lack them.
   */
  | { kind: 'sid'; id: string; expiresAt: number; at: number; userId?: string; reason?: SessionEndReason }
  | { kind: 'user'; id: string; revokedAfter: number; expiresAt: number; at: number }
  /** A tenant's `revoked_after` (`id`: the tenant): tokens with that `tenant` claim issued before it are revoked. */
  | { kind: 'tenant'; id: string; revokedAfter: number; expiresAt: number; at: number }
  /**
   * The global `revoked_after` (admin.revokeAllSessions; `id` is `*`): every access token issued before it is revoked,
   * whatever its user or tenant. Every session that existed also gets its sid event.
   */
  | { kind: 'all'; id: string; revokedAfter: number; expiresAt: number; at: number }
  /** The key ring changed (rotation, emergency rotation): `id` is its new version. */
  | { kind: 'keyring'; id: string; expiresAt: number; at: number }
  /**
   * A device session started (`id`: its sid). Not a revocation: guards skip it; event streams tell the user's other
   * devices (`devices_changed`). Lives as long as the sid events, so the log's trimming rule stays one rule.
   */
  | { kind: 'session'; id: string; userId: string; expiresAt: number; at: number };

/**
 * How long a key-ring event stays in the log. Such events only wake the followers that are running when the ring
 * changes; a guard that starts later loads the ring itself, so this need not cover any token's lifetime. One value
 * for every store.
 */
export const KEY_RING_EVENT_TTL_MS = 10 * 60_000;

export interface RevocationBatch {
  events: RevocationEvent[];
  /** Opaque; pass it back as `after` to continue. */
  position: string | null;
  /**
   * Events in this batch that the store's wake-up signal should have announced but did not (Redis Cluster: found by
   * the periodic full read, their Pub/Sub message lost). Absent where there is no such signal.
   */
  unannounced?: number;
}

export interface ReadRevocationsOptions {
  /** When nothing follows `after`, wait up to this long for an event before answering with an empty batch. 0: do not wait. */
  blockMs: number;
  /** At most this many events per batch. */
  count: number;
}
