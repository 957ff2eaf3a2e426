import type { ErrorCode } from '@latchkey/shared';

/** Seconds a client should wait before retrying a 503: about the guard's heartbeat plus the store's 1 s command deadline. */
export const RETRY_AFTER_SECONDS = 1;

/** HTTP status, default public message and default headers of every wire code, in one place. */
const WIRE: Readonly<Record<ErrorCode, { status: number; message: string; headers?: Readonly<Record<string, string>> }>> = Object.freeze({
  invalid_request: { status: 400, message: 'The request is malformed.' },
  unsupported_media_type: { status: 415, message: 'Request bodies must be application/json.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  invalid_credentials: { status: 401, message: 'Wrong username or password.' },
  // RFC 6749 §5.2: a failed client authentication names the scheme the client may use.
  invalid_client: { status: 401, message: 'Client authentication failed.', headers: { 'WWW-Authenticate': 'Basic realm="latchkey", charset="UTF-8"' } },
  rate_limited: { status: 429, message: 'Too many attempts. Try again later.' },
  too_many_connections: { status: 429, message: 'Too many open event streams. Try again later.' },
  csrf_rejected: { status: 403, message: 'The request was rejected as a possible cross-site request.' },
  no_session: { status: 401, message: 'There is no session.' },
  session_expired: { status: 401, message: 'The session has expired.' },
  session_revoked: { status: 401, message: 'The session was signed out.' },
  reuse_detected: { status: 401, message: 'The session was ended because its credential was used twice.' },
  invalid_token: { status: 401, message: 'The access token is invalid.' },
  insufficient_scope: { status: 403, message: 'The access token lacks a scope this route requires.' },
  // RFC 9470: the route needs a more recent or stronger authentication; the challenge says which (max_age, acr_values).
  insufficient_user_authentication: {
    status: 401,
    message: 'A more recent authentication is required.',
    headers: { 'WWW-Authenticate': 'Bearer error="insufficient_user_authentication"' },
  },
  not_found: { status: 404, message: 'Not found.' },
  oidc_login_failed: { status: 400, message: 'Sign-in with the identity provider failed. Start again.' },
  // Every 503 says when to come back (RFC 9110 §10.2.3), wherever it is raised.
  temporarily_unavailable: {
    status: 503,
    message: 'The service is temporarily unavailable. Try again shortly.',
    headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
  },
  // A proxied call the upstream API did not answer (refused, reset, bad answer) or answered too late (bff.proxy).
  upstream_unavailable: { status: 502, message: 'The upstream service could not be reached.' },
  upstream_timeout: { status: 504, message: 'The upstream service did not answer in time.' },
  internal_error: { status: 500, message: 'Something went wrong.' },
});

export interface LatchkeyErrorOptions {
  cause?: unknown;
  /** Whether `message` may be shown to the client (default: yes, except for internal errors). */
  expose?: boolean;
  /** Extra response headers (for example `WWW-Authenticate`, `Retry-After`), over the code's defaults. */
  headers?: Readonly<Record<string, string>>;
  /**
   * The body also carries `error_description` (the message), as OAuth-style endpoints answer (OIDC Back-Channel
   * Logout: 400 `{ error, error_description }`).
   */
  oauthBody?: boolean;
}

/**
 * The one error type the BFF and the guard throw. Carries the wire code, the HTTP status,
 * whether the message may be shown, and the original error as `cause`.
 */
export class LatchkeyError extends Error {
  override readonly name = 'LatchkeyError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly oauthBody: boolean;

  constructor(code: ErrorCode, message?: string, options: LatchkeyErrorOptions = {}) {
    const wire = WIRE[code];
    super(message ?? wire.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = wire.status;
    this.expose = options.expose ?? code !== 'internal_error';
    this.headers = Object.freeze({ ...wire.headers, ...options.headers });
    this.oauthBody = options.oauthBody ?? false;
  }

  /** The message the client may see. */
  get publicMessage(): string {
    return this.expose ? this.message : WIRE[this.code].message;
  }
}
