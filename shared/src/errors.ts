/**
 * The closed set of error codes on the wire. Every error body is `{ error, message }`
 * with `error` from this list; clients branch on the code, never on the message.
 */
export const ERROR_CODES = [
  'invalid_request',
  'unsupported_media_type',
  'payload_too_large',
  'invalid_credentials',
  'invalid_client',
  'rate_limited',
  'too_many_connections',
  'csrf_rejected',
  'no_session',
  'session_expired',
  'session_revoked',
  'reuse_detected',
  'invalid_token',
  'insufficient_scope',
  'insufficient_user_authentication',
  'not_found',
  'oidc_login_failed',
  'temporarily_unavailable',
  'upstream_unavailable',
  'upstream_timeout',
  'internal_error',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  error: ErrorCode;
  message: string;
}

/** Refresh failures that end the device session for good; anything else is worth retrying. */
export const SESSION_ENDING_CODES: readonly ErrorCode[] = Object.freeze(['no_session', 'session_expired', 'session_revoked', 'reuse_detected']);

// Written for size: this ships in the browser bundle (the client's budget is tight).
export function isErrorCode(value: unknown): value is ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(value);
}

/** `{ error, message }` with a known code; anything else (null, a primitive, a proxy's HTML) is not. */
export function isErrorBody(value: unknown): value is ErrorBody {
  return isErrorCode((value as Partial<ErrorBody> | null)?.error) && typeof (value as ErrorBody).message == 'string';
}
