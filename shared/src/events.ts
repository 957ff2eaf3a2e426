/** Lifecycle events of a client session, also the messages tabs exchange. */
export const SESSION_EVENTS = ['signed_in', 'refreshed', 'signed_out', 'theft_detected'] as const;
export type SessionEventName = (typeof SESSION_EVENTS)[number];

/** Why a session ended, as the client reports it. */
export type SignOutReason =
  | 'logout'
  | 'logout_all'
  | 'session_expired'
  | 'session_revoked'
  | 'reuse_detected'
  | 'no_session';
