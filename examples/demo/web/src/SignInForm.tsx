import { useEffect, useState, type FormEvent } from 'react';
import { useSession } from '@latchkey/client/react';
import { describeError } from './describe-error.js';
import { guessDeviceName } from './device-name.js';
import { authErrorSentence } from './messages.js';

export function SignInForm() {
  const { login, signIn } = useSession();
  // Whether the server signs in through an identity provider (LATCHKEY_DEMO_IDP or LATCHKEY_OIDC_*).
  const [oidc, setOidc] = useState(false);
  useEffect(() => {
    fetch('/api/config')
      .then((res) => res.json() as Promise<{ oidc?: boolean }>)
      .then((config) => setOidc(config.oidc === true))
      .catch(() => setOidc(false));
  }, []);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [deviceName, setDeviceName] = useState(guessDeviceName);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState('');
  // A sign-in at the identity provider that was cancelled or failed comes back here with ?auth_error=<code>: said once,
  // as a sentence, and taken out of the address bar so a reload does not say it again.
  const [authError] = useState(() => {
    const code = new URLSearchParams(location.search).get('auth_error');
    if (code === null) return '';
    const url = new URL(location.href);
    url.searchParams.delete('auth_error');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    return authErrorSentence(code);
  });

  async function submit(event: FormEvent) {
    event.preventDefault();
    setPending(true);
    setError('');
    try {
      await login({ username, password, deviceName: deviceName.trim() || undefined });
    } catch (failure) {
      setError(describeError(failure));
      setPending(false);
    }
  }

  return (
    <form className="card sign-in" onSubmit={(event) => void submit(event)} data-testid="login-form">
      <h2>Sign in</h2>
      <label>
        Username
        <input
          data-testid="login-username"
          name="username"
          autoComplete="username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          required
          autoFocus
        />
      </label>
      <label>
        Password
        <input
          data-testid="login-password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
      </label>
      <label>
        Device name
        <input data-testid="login-device" name="deviceName" value={deviceName} onChange={(e) => setDeviceName(e.target.value)} maxLength={100} />
      </label>
      {authError && !error && (
        <p className="form-error" role="alert" data-testid="auth-error">
          {authError}
        </p>
      )}
      {error && (
        <p className="form-error" role="alert" data-testid="login-error">
          {error}
        </p>
      )}
      <button className="primary" type="submit" disabled={pending} data-testid="login-submit">
        {pending ? 'Signing in…' : 'Sign in'}
      </button>
      {oidc && (
        <button type="button" onClick={() => signIn(deviceName.trim() ? { deviceName: deviceName.trim() } : {})} data-testid="idp-sign-in">
          Sign in with the identity provider
        </button>
      )}
      <p className="hint">
        Demo accounts: <code>alice</code> / <code>wonderland</code> and <code>bob</code> / <code>builder</code>
      </p>
    </form>
  );
}
