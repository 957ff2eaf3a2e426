import type { ErrorCode } from '@latchkey/shared';

/** Failures that never reach the BFF's error vocabulary. */
export type ClientErrorCode = 'network_error' | 'bad_response';

/** Every failure the client reports: `code` to branch on, `status` (0 when there was no response), `cause`. */
export class SessionError extends Error {
  override name = 'SessionError';
  constructor(
    readonly code: ErrorCode | ClientErrorCode,
    readonly status: number,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(message || code, options);
  }
}
