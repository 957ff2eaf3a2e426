import { useSession } from '@latchkey/client/react';
import { SIGNED_OUT_ELSEWHERE, SIGN_OUT_SENTENCES } from './messages.js';
import { loggedOutAllFromHere } from './session.js';
import { SignInForm } from './SignInForm.js';

export function SignedOut() {
  const { signOutReason } = useSession();
  const sentence = signOutReason == 'logout_all' && !loggedOutAllFromHere() ? SIGNED_OUT_ELSEWHERE : signOutReason && SIGN_OUT_SENTENCES[signOutReason];
  return (
    <>
      {signOutReason && (
        <p
          className={`notice ${signOutReason == 'reuse_detected' ? 'notice-danger' : ''}`}
          role="status"
          data-testid="signout-reason"
          data-reason={signOutReason}
        >
          {sentence}
        </p>
      )}
      <SignInForm />
    </>
  );
}
