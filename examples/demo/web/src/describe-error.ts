import { isAxiosError } from 'axios';
import { SessionError } from '@latchkey/client';

const MESSAGES: Record<string, string> = {
  invalid_credentials: 'Wrong username or password.',
  rate_limited: 'Too many attempts. Wait a moment and try again.',
  network_error: 'The server could not be reached.',
  temporarily_unavailable: 'The server is temporarily unavailable.',
  not_found: 'That device session no longer exists.',
  oidc_login_failed: 'Sign-in with the identity provider failed. Start again.',
};

/** One line for the user, with the code in brackets for whoever debugs. */
export function describeError(error: unknown): string {
  if (error instanceof SessionError) return `${MESSAGES[error.code] ?? error.message} (${error.code})`;
  if (isAxiosError(error)) {
    if (!error.response) return `Network error: ${error.message}`;
    const code = (error.response.data as { error?: unknown } | undefined)?.error;
    return `HTTP ${error.response.status} ${error.response.statusText}${typeof code === 'string' ? ` (${code})` : ''}`.replace(/\s+/g, ' ').trim();
  }
  return error instanceof Error ? error.message : String(error);
}
