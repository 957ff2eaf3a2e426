import type { RevocationEvent } from '../store/revocation-feed.js';

/**
 * One line of the operators' feed (`GET /activity` of the admin router). Ids and outcomes only, never a token:
 * - `session_ended`, `user_revoked`, `tenant_revoked`, `all_revoked`, `token_revoked`, `keys_changed`, `theft_detected`: from the
 *   store's revocation log, so every instance's revocations appear (`source: 'log'`);
 * - `session_evicted`, `admin_action`, `admin_refused`: seen by this process (`source: 'process'`).
 */
export interface ActivityEntry {
  seq: number;
  /** Epoch ms. */
  at: number;
  kind: ActivityKind;
  source: 'log' | 'process';
  userId?: string;
  sid?: string;
  tenant?: string;
  jti?: string;
  /** Why a session ended (`logout`, `session_revoked`, `reuse_detected`, ...). */
  reason?: string;
  /** The administrator who acted (their `sub` and device session), for admin entries. */
  actor?: { sub: string; sid: string };
  action?: string;
  outcome?: string;
  /** The admin action's target (user, session, tenant) and what it reported (counts, kid). */
  target?: Record<string, string>;
  detail?: Record<string, unknown>;
}

export type ActivityKind =
  | 'session_ended'
  | 'theft_detected'
  | 'user_revoked'
  | 'tenant_revoked'
  /** admin.revokeAllSessions: every token issued before it is refused, every session ended. */
  | 'all_revoked'
  | 'token_revoked'
  | 'keys_changed'
  | 'session_evicted'
  | 'admin_action'
  | 'admin_refused';

export type NewActivity = Omit<ActivityEntry, 'seq' | 'at' | 'source'> & { at?: number };

/** How many entries the feed keeps: a screen's worth of recent history, bounded whatever the traffic. */
export const ACTIVITY_CAPACITY = 200;

/**
 * An in-process ring buffer of what an operator wants to see happen: revocations (from the shared revocation log),
 * theft detections, evictions and admin actions. Memory is bounded by `capacity`; it is not a durable audit trail
 * (the logger's `admin_audit` lines are).
 */
export class ActivityLog {
  readonly #entries: ActivityEntry[] = [];
  #seq = 0;

  constructor(
    private readonly now: () => number,
    private readonly capacity = ACTIVITY_CAPACITY,
  ) {}

  /** Something this process saw. */
  record(entry: NewActivity): void {
    this.#push({ ...entry, source: 'process' });
  }

  /** An event of the revocation log (every instance's revocations); session starts are not news for operators. */
  recordLogEvent(event: RevocationEvent): void {
    const at = event.at;
    switch (event.kind) {
      case 'sid':
        this.#push({
          kind: event.reason === 'reuse_detected' ? 'theft_detected' : 'session_ended',
          at,
          source: 'log',
          sid: event.id,
          ...(event.userId !== undefined ? { userId: event.userId } : {}),
          ...(event.reason !== undefined ? { reason: event.reason } : {}),
        });
        return;
      case 'user':
        this.#push({ kind: 'user_revoked', at, source: 'log', userId: event.id });
        return;
      case 'tenant':
        this.#push({ kind: 'tenant_revoked', at, source: 'log', tenant: event.id });
        return;
      case 'all':
        this.#push({ kind: 'all_revoked', at, source: 'log' });
        return;
      case 'jti':
        this.#push({ kind: 'token_revoked', at, source: 'log', jti: event.id });
        return;
      case 'keyring':
        this.#push({ kind: 'keys_changed', at, source: 'log' });
        return;
      case 'session':
        return;
    }
  }

  /** The newest `limit` entries, newest first. */
  recent(limit = this.capacity): ActivityEntry[] {
    return this.#entries.slice(-limit).reverse();
  }

  #push(entry: Omit<ActivityEntry, 'seq' | 'at'> & { at?: number }): void {
    this.#entries.push({ ...entry, seq: ++this.#seq, at: entry.at ?? this.now() } as ActivityEntry);
    if (this.#entries.length > this.capacity) this.#entries.splice(0, this.#entries.length - this.capacity);
  }
}
