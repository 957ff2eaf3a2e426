/** Lifecycle events of a client session, also the messages tabs exchange. */
export const SESSION_EVENTS = ['signed_in', 'refreshed', 'signed_out', 'theft_detected', 'reauthentication_required'] as const;
export type SessionEventName = (typeof SESSION_EVENTS)[number];

/** Why a session ended, as the client reports it. */
export type SignOutReason = 'logout' | 'logout_all' | 'session_expired' | 'session_revoked' | 'reuse_detected' | 'no_session';

/**
 * Events on the `GET /auth/events` stream (text/event-stream), by SSE event name. `reconnect` is the last event of a
 * stream the server ends because it is shutting down: reconnect (EventSource does, after the `retry:` sent with it).
 */
export const STREAM_EVENTS = ['session_ended', 'devices_changed', 'reconnect'] as const;
export type StreamEventName = (typeof STREAM_EVENTS)[number];

/**
 * Why the server ended a device session, as `session_ended` reports it to the page (a subset of SignOutReason, what the
 * client already understands): `logout_all` for logout-all and an admin's revokeUser; `session_expired` for the idle or
 * absolute end; `session_revoked` for every other end. The server's own reason is finer: SessionEndReason.
 */
export type SessionEndedReason = Extract<SignOutReason, 'logout' | 'logout_all' | 'session_revoked' | 'reuse_detected' | 'session_expired'>;

/**
 * Why a device session ended, as the server records it: one vocabulary for the store (what an old cookie is told), the
 * revocation log, the event streams, the `latchkey_logouts_total{reason}` metric, the operators' feed and the logs.
 */
export const SESSION_END_REASONS = [
  /** POST /logout on this device. */
  'logout',
  /** POST /logout-all: every device of the user. */
  'logout_all',
  /** POST /logout-others from another device of the user. */
  'logout_others',
  /** The user signed this device out from another one (DELETE /sessions/:id). */
  'device_revoked',
  /** A new sign-in in the same browser replaced it. */
  'replaced',
  /** admin.revokeUser: every device of the user. */
  'admin_user',
  /** admin.endUserSession: this one device. */
  'admin_device',
  /** admin.revokeTenant (or a refresh that found its tenant revoked). */
  'tenant_revoked',
  /** admin.revokeAllSessions (incident response). */
  'all_revoked',
  /** A superseded refresh credential was presented (theft). */
  'reuse_detected',
  /** No activity for `idleTimeoutSeconds`. */
  'idle',
  /** `absoluteTimeoutSeconds` after the sign-in. */
  'absolute',
  /** A new sign-in of the user beyond the per-user cap ended it. */
  'cap_evicted',
  /** An OpenID Connect back-channel logout from the identity provider. */
  'backchannel',
  /** The identity provider refused the session's refresh token. */
  'idp_refused',
  /**
   * The identity provider issued no refresh token, and the session's last authentication there is older than its
   * `recheckWithoutRefreshTokenSeconds`: the page signs in there again.
   */
  'idp_recheck',
  /** The application's `validateSession` answered false (account disabled, ...). */
  'validate_refused',
] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

const END_REASON_SET: ReadonlySet<string> = /* @__PURE__ */ new Set(SESSION_END_REASONS);

/** Whether a string (from a store, a log entry) is one of SESSION_END_REASONS. */
export const isSessionEndReason = (value: unknown): value is SessionEndReason => typeof value === 'string' && END_REASON_SET.has(value);

/** What `session_ended` tells the page for each server reason. */
export function sessionEndedReasonOf(reason: SessionEndReason): SessionEndedReason {
  switch (reason) {
    case 'logout':
    case 'reuse_detected':
    case 'logout_all':
      return reason;
    // The browser signed in again: to its old session's cookie, that is a sign-out it made itself.
    case 'replaced':
      return 'logout';
    case 'admin_user':
      return 'logout_all';
    case 'idle':
    case 'absolute':
    case 'idp_recheck':
      return 'session_expired';
    default:
      return 'session_revoked';
  }
}

/** Data of `session_ended`: the device session `sid` (the stream's own) ended. */
export interface SessionEndedData {
  sid: string;
  reason: SessionEndedReason;
}

/** Data of `reconnect`: the delay before reconnecting the server asked for (the stream's new `retry:`). */
export interface ReconnectData {
  retryMs: number;
}

/** Data of `devices_changed`: a session of the user started (`started`) or ended; reload the device list. */
export interface DevicesChangedData {
  sid: string;
  change: 'started' | 'ended';
}
