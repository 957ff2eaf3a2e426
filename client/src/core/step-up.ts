import type { EventEmitter } from './event-emitter.js';
import { SessionError } from './session-error.js';
import type { SessionEventMap } from './types.js';

/**
 * Step-up (RFC 9470): an API's `insufficient_user_authentication` challenge, reported as `reauthentication_required`
 * with its `max_age` and `acr_values`; returns the SessionError the adapter rejects with (never a refresh: a new token
 * for the same authentication would be refused again).
 */
export function stepUpRequired(events: EventEmitter<SessionEventMap>, challenge: string): SessionError {
  const maxAge = /max_age=(\d+)/.exec(challenge);
  events.emit('reauthentication_required', { maxAge: maxAge ? +maxAge[1]! : undefined, acrValues: /acr_values="([^"]*)/.exec(challenge)?.[1] });
  return new SessionError('insufficient_user_authentication', 401);
}
