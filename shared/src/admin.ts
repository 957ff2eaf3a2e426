/**
 * The admin router's answers that its operators' console reads (`@latchkey/admin-console`): one definition for the
 * BFF that writes them and the page that shows them.
 */

/** What happened, in one line of the operators' feed (`GET /admin/activity`). */
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

/**
 * One line of the operators' feed. Ids and outcomes only, never a token:
 * - `session_ended`, `user_revoked`, `tenant_revoked`, `all_revoked`, `token_revoked`, `keys_changed`, `theft_detected`:
 *   from the store's revocation log, so every instance's revocations appear (`source: 'log'`);
 * - `session_evicted`, `admin_action`, `admin_refused`: seen by the answering process (`source: 'process'`).
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
  /** Why a session ended (a `SessionEndReason`). */
  reason?: string;
  /** The administrator who acted (their `sub` and device session), for admin entries. */
  actor?: { sub: string; sid: string };
  action?: string;
  outcome?: string;
  /** The admin action's target (user, session, tenant) and what it reported (counts, kid). */
  target?: Record<string, string>;
  detail?: Record<string, unknown>;
}

/** A signing key as `GET /admin/keys` describes it: never its material. */
export interface SigningKeyDescription {
  kid: string;
  alg: string;
  /** `staged`: published, not yet signing; `active`: signs; `retired`: verifies until `retireAfter`. */
  state: 'staged' | 'active' | 'retired';
  createdAt: number;
  retireAfter: number | null;
}
