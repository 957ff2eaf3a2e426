import type { ActivityEntry } from '@latchkey/shared';
import type { RevocationEvent } from '../store/revocation-feed.js';

export type { ActivityEntry, ActivityKind } from '@latchkey/shared';

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
