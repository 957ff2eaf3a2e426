/**
 * The closed set of error codes on the wire. Every error body is `{ error, message }`
 * with `error` from this list; clients branch on the code, never on the message.
 */
export const ERROR_CODES = [
  'invalid_request',
  'unsupported_media_type',
  'payload_too_large',
  'invalid_credentials',
  'rate_limited',
  'too_many_connections',
  'csrf_rejected',
  'no_session',
  'session_expired',
  'session_revoked',
  'reuse_detected',
  'invalid_token',
  'not_found',
  'oidc_login_failed',
  'temporarily_unavailable',
  'internal_error',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  error: ErrorCode;
  message: string;
}

/** Refresh failures that end the device session for good; anything else is worth retrying. */
export const SESSION_ENDING_CODES: readonly ErrorCode[] = Object.freeze([
  'no_session',
  'session_expired',
  'session_revoked',
  'reuse_detected',
]);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

export function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    isErrorCode((value as { error?: unknown }).error) &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}
