import { useEffect, useState, type FormEvent } from 'react';
import { useSession } from '@latchkey/client/react';
import { describeError } from './describe-error.js';
import { settleReauthentication } from './reauth.js';
import { sessionClient } from './session.js';

/**
 * The password prompt of a step-up: shown when the client reports `reauthentication_required` (an API wants a more
 * recent authentication), it re-authenticates this device session (same session, fresh `auth_time`) and lets the
 * waiting calls retry. A session from the identity provider re-authenticates there instead (prompt=login).
 */
export function ReauthPrompt() {
  const { reauthenticate, signIn } = useSession();
  const [open, setOpen] = useState(false);
  const [password, setPassword] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => sessionClient.on('reauthentication_required', () => setOpen(true)), []);
  if (!open) return null;

  function close(succeeded: boolean) {
    setOpen(false);
    setPassword('');
    setError('');
    settleReauthentication(succeeded);
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError('');
    try {
      await reauthenticate({ password });
      close(true);
    } catch (failure) {
      setError(describeError(failure));
    } finally {
      setPending(false);
    }
  }

  return (
    <form className="card reauth" onSubmit={(event) => void submit(event)} data-testid="reauth-form">
      <h2>Confirm it is you</h2>
      <p className="muted">This action needs a recent sign-in. Enter your password again; you stay signed in on this device.</p>
      <label>
        Password
        <input
          data-testid="reauth-password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
      </label>
      {error && (
        <p className="form-error" role="alert" data-testid="reauth-error">
          {error}
        </p>
      )}
      <div className="actions">
        <button className="primary" type="submit" disabled={pending} data-testid="reauth-submit">
          Confirm
        </button>
        <button type="button" onClick={() => close(false)} data-testid="reauth-cancel">
          Cancel
        </button>
        <button type="button" onClick={() => signIn({ reauth: 1 })} data-testid="reauth-idp">
          Signed in with the identity provider? Confirm there
        </button>
      </div>
    </form>
  );
}
