import type { ErrorCode } from '@latchkey/shared';

/** Failures that never reach the BFF's error vocabulary. */
export type ClientErrorCode = 'network_error' | 'bad_response';

/** Every failure the client reports: `code` to branch on, `status` (0 when there was no response), `cause`. */
export class SessionError extends Error {
  override name = 'SessionError';
  // Declared, not parameter properties: those compile to class fields as well, bytes the browser bundle can spare.
  declare readonly code: ErrorCode | ClientErrorCode;
  declare readonly status: number;
  constructor(code: ErrorCode | ClientErrorCode, status: number, message?: string, options?: { cause?: unknown }) {
    super(message || code, options);
    this.code = code;
    this.status = status;
  }
}
