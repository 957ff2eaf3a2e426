import { useState, type FormEvent } from 'react';
import { useSession } from '@latchkey/client/react';
import { describeError } from './describe-error.js';

/** The operator signs in like any user of the application, on a device session named after the console. */
export function SignIn() {
  const { login, signOutReason } = useSession();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState('');

  async function submit(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError('');
    try {
      await login({ username, password, deviceName: "Operators' console" });
    } catch (failure) {
      setError(describeError(failure));
      setPending(false);
    }
  }

  return (
    <form className="card sign-in" onSubmit={(event) => void submit(event)} data-testid="console-login-form">
      <h2>Sign in to the console</h2>
      <p className="muted">Use your own account. Only accounts with the administrators&apos; scope see anything here.</p>
      {signOutReason && signOutReason !== 'logout' && (
        <p className="banner" role="status" data-testid="console-signed-out-reason">
          Your session ended ({signOutReason.replace(/_/g, ' ')}). Sign in again.
        </p>
      )}
      <label>
        Username
        <input data-testid="console-username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
      </label>
      <label>
        Password
        <input
          data-testid="console-password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
      </label>
      {error && (
        <p className="form-error" role="alert" data-testid="console-login-error">
          {error}
        </p>
      )}
      <button className="primary" type="submit" disabled={pending} data-testid="console-login-submit">
        {pending ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
