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
 * Why the server ended a device session, as `session_ended` reports it (`logout_all`: logout-all or an admin's
 * revokeUser; `session_expired`: the session reached its idle or absolute end while its stream was open).
 */
export type SessionEndedReason = Extract<SignOutReason, 'logout' | 'logout_all' | 'session_revoked' | 'reuse_detected' | 'session_expired'>;

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
