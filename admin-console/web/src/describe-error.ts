import { SessionError } from '@latchkey/client';
import { AdminError } from './admin-api.js';

const SIGN_IN: Record<string, string> = {
  invalid_credentials: 'Wrong username or password.',
  rate_limited: 'Too many attempts. Wait a moment and try again.',
  network_error: 'The server could not be reached. Check the connection and try again.',
  temporarily_unavailable: 'The server is temporarily unavailable. Try again in a few seconds.',
};

/** One readable sentence for the operator, the error code in brackets for whoever reads the audit log. */
export function describeError(error: unknown): string {
  if (error instanceof AdminError) {
    const sentence =
      error.code === 'temporarily_unavailable'
        ? 'The session store cannot be reached right now, so nothing was changed. Try again in a few seconds.'
        : error.code === 'invalid_token'
          ? 'Your sign-in is no longer valid. Sign in again.'
          : error.message;
    return error.status === 0 ? sentence : `${sentence} (${error.code})`;
  }
  if (error instanceof SessionError) return `${SIGN_IN[error.code] ?? error.message} (${error.code})`;
  return error instanceof Error ? error.message : String(error);
}
