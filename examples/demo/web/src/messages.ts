import type { ErrorCode, SignOutReason } from '@latchkey/shared';
import type { ClientErrorCode } from '@latchkey/client';

/**
 * Every sign-out reason as a sentence. `logout_all` is said two ways: the device whose user clicked "Sign out
 * everywhere" (every tab of that browser) hears that it did; every other device hears it happened elsewhere.
 */
export const SIGN_OUT_SENTENCES: Record<SignOutReason, string> = {
  logout: 'You signed out on this device.',
  logout_all: 'You signed out everywhere.',
  session_expired: 'Your session expired. Please sign in again.',
  session_revoked: 'This device was signed out from another device.',
  reuse_detected: 'Signed out for your safety: an old copy of this session was used somewhere else. Please sign in again.',
  no_session: 'Your session is no longer valid. Please sign in again.',
};
export const SIGNED_OUT_ELSEWHERE = 'Signed out from another device.';

/**
 * Every code the BFF, the API or the client can answer with, as a sentence (the page never shows the code itself).
 * Exhaustive on purpose: a code added to the protocol fails the typecheck here until it has a sentence.
 */
export const ERROR_SENTENCES: Record<ErrorCode | ClientErrorCode, string> = {
  invalid_request: 'The request was not understood. Check the form and try again.',
  unsupported_media_type: 'The request was sent in a format the server does not accept.',
  payload_too_large: 'The request was too large.',
  invalid_credentials: 'Wrong username or password.',
  invalid_client: 'This application is not allowed to make that request.',
  rate_limited: 'Too many attempts. Wait a moment and try again.',
  too_many_connections: 'Too many open connections from this browser. Close a few tabs and try again.',
  csrf_rejected: 'The server refused this page: it is not configured to accept requests from this address.',
  no_session: 'You are not signed in.',
  session_expired: 'Your session expired. Please sign in again.',
  session_revoked: 'This device was signed out from another device.',
  reuse_detected: 'This session was ended for your safety. Please sign in again.',
  invalid_token: 'Your access was refused: the session has ended or the token is no longer valid.',
  insufficient_scope: 'Your account is not allowed to do that (bob lacks the admin scope; alice has it).',
  insufficient_user_authentication: 'This needs a recent sign-in: confirm your password to continue.',
  not_found: 'That device session no longer exists.',
  oidc_login_failed: 'Sign-in with the identity provider failed. Start again.',
  temporarily_unavailable: 'The server is temporarily unavailable. Try again in a moment.',
  upstream_unavailable: 'The service behind this page could not be reached. You are still signed in; try again in a moment.',
  upstream_timeout: 'The service behind this page did not answer in time. You are still signed in; try again in a moment.',
  internal_error: 'Something went wrong on the server. Try again later.',
  network_error: 'The server could not be reached. Check your connection.',
  bad_response: 'The server sent an answer this page does not understand.',
};

/** The sentence for a code; for a code this page does not know (a newer server), the server's own message. */
export function sentenceFor(code: string, serverMessage?: string): string {
  return (Object.hasOwn(ERROR_SENTENCES, code) ? ERROR_SENTENCES[code as ErrorCode] : undefined) ?? serverMessage ?? 'Something went wrong. Try again.';
}

/** The `auth_error` the BFF adds to the page's address when a sign-in at the identity provider did not complete. */
const AUTH_ERROR_SENTENCES: Record<string, string> = {
  access_denied: 'Sign-in with the identity provider was cancelled. You are not signed in.',
  oidc_login_failed: 'Sign-in with the identity provider failed. Start again.',
  temporarily_unavailable: 'The identity provider could not be reached. Try again in a moment.',
};

export function authErrorSentence(code: string): string {
  return (
    (Object.hasOwn(AUTH_ERROR_SENTENCES, code) ? AUTH_ERROR_SENTENCES[code] : undefined) ?? 'Sign-in with the identity provider did not complete. Start again.'
  );
}
