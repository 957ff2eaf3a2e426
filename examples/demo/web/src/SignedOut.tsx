import type { SignOutReason } from '@latchkey/client';
import { useSession } from '@latchkey/client/react';
import { SignInForm } from './SignInForm.js';

const REASONS: Record<SignOutReason, string> = {
  logout: 'You signed out on this device.',
  logout_all: 'You signed out everywhere.',
  session_expired: 'Your session expired. Please sign in again.',
  session_revoked: 'This device was signed out from another device.',
  reuse_detected: 'Signed out for your safety: an old copy of this session was used somewhere else.',
  no_session: 'Your session is no longer valid. Please sign in again.',
};

export function SignedOut() {
  const { signOutReason } = useSession();
  return (
    <>
      {signOutReason && (
        <p
          className={`notice ${signOutReason == 'reuse_detected' ? 'notice-danger' : ''}`}
          role="status"
          data-testid="signout-reason"
          data-reason={signOutReason}
        >
          {REASONS[signOutReason]} <code>{signOutReason}</code>
        </p>
      )}
      <SignInForm />
    </>
  );
}
