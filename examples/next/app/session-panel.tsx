'use client';

import { useState } from 'react';
import { useSession } from '@latchkey/client/react';
import { useDevices } from '@latchkey/client/react/devices';

/** Client components on useSession: the status (already settled at hydration), sign-in, sign-out, and the device list. */
export function SessionPanel() {
  const { status, user, login, logout, logoutAll, getAccessToken } = useSession();
  const { devices } = useDevices();
  const [username, setUsername] = useState('alice');
  const [password, setPassword] = useState('');
  const [fromBrowser, setFromBrowser] = useState('');

  async function callApi() {
    const token = await getAccessToken();
    const res = await fetch('/api/me', { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    setFromBrowser(res.ok ? ((await res.json()) as { sub: string }).sub : `HTTP ${res.status}`);
  }

  if (status !== 'authenticated') {
    return (
      <section>
        <p data-testid="status">{status}</p>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void login({ username, password, deviceName: 'Next.js example' }).then(() => location.reload());
          }}
        >
          <input data-testid="login-username" value={username} onChange={(e) => setUsername(e.target.value)} />
          <input data-testid="login-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} />
          <button data-testid="login-submit" type="submit">
            Sign in
          </button>
        </form>
      </section>
    );
  }
  return (
    <section>
      <p data-testid="status">{status}</p>
      <p data-testid="user-name">{user!.name}</p>
      <button data-testid="call-me" onClick={() => void callApi()}>
        Call /api/me from the browser
      </button>
      <span data-testid="browser-data">{fromBrowser}</span>
      <button data-testid="logout" onClick={() => void logout().then(() => location.reload())}>
        Sign out
      </button>
      <button data-testid="logout-all" onClick={() => void logoutAll().then(() => location.reload())}>
        Sign out everywhere
      </button>
      <ul data-testid="device-list">
        {devices.map((d) => (
          <li key={d.id} data-testid="device-row">
            {d.deviceName}
            {d.current ? ' (this device)' : ''}
          </li>
        ))}
      </ul>
    </section>
  );
}
