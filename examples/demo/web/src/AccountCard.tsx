import { useState } from 'react';
import { useSession } from '@latchkey/client/react';
import { describeError } from './describe-error.js';
import { logoutAllFromHere } from './session.js';

export function AccountCard() {
  const { user, session, logout, logoutOthers } = useSession();
  const [error, setError] = useState('');

  // The sign-outs end this device locally (and in every tab) even when the server cannot be reached; then we say so.
  const run = (action: () => Promise<void>) => () => {
    setError('');
    action().catch((failure: unknown) => setError(describeError(failure)));
  };

  return (
    <section className="card">
      <h2>Account</h2>
      <dl className="facts">
        <dt>User</dt>
        <dd data-testid="user-name">{user?.name}</dd>
        <dt>This device</dt>
        <dd data-testid="session-device">{session?.deviceName}</dd>
        <dt>Session</dt>
        <dd>
          <code data-testid="session-id">{session?.id}</code>
        </dd>
      </dl>
      <div className="actions">
        <button onClick={run(logout)} data-testid="logout">
          Sign out this device
        </button>
        <button onClick={run(logoutOthers)} data-testid="logout-others">
          Sign out my other devices
        </button>
        <button className="danger" onClick={run(logoutAllFromHere)} data-testid="logout-all">
          Sign out everywhere
        </button>
      </div>
      {error && (
        <p className="form-error" role="alert" data-testid="action-error">
          {error}
        </p>
      )}
    </section>
  );
}
