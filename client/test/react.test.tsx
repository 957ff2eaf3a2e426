import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import type { SessionClient } from '@latchkey/client';
import { RequireSession, SessionProvider, useSession } from '@latchkey/client/react';
import { useDevices } from '@latchkey/client/react/devices';
import { StrictMode, useState } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HINT_COOKIE, createFakeBff, makeClient } from './support/fake-bff.js';

const clients: SessionClient[] = [];

beforeEach(() => {
  vi.stubGlobal('BroadcastChannel', undefined);
});

afterEach(() => {
  cleanup();
  clients.splice(0).forEach((c) => c.destroy());
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

function Status() {
  const session = useSession();
  return (
    <div>
      <span data-testid="status">{session.status}</span>
      <span data-testid="user">{session.user?.name ?? '-'}</span>
      <span data-testid="reason">{session.signOutReason ?? '-'}</span>
      <button onClick={() => void session.login({ username: 'alice', password: 'wonderland' })}>login</button>
      <button onClick={() => void session.logout()}>logout</button>
    </div>
  );
}

describe('SessionProvider and useSession', () => {
  it('exposes logoutOthers: the other devices sign out, this page stays signed in', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    function Others() {
      const session = useSession();
      return (
        <div>
          <span data-testid="status">{session.status}</span>
          <button onClick={() => void session.logoutOthers()}>others</button>
        </div>
      );
    }
    render(
      <SessionProvider client={client}>
        <Others />
      </SessionProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('authenticated'));
    fireEvent.click(screen.getByText('others'));
    await waitFor(() => expect(bff.count('/logout-others')).toBe(1));
    expect(screen.getByTestId('status').textContent).toBe('authenticated');
  });

  it('starts the client and follows it from loading to authenticated', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    render(
      <SessionProvider client={client}>
        <Status />
      </SessionProvider>,
    );
    expect(screen.getByTestId('status').textContent).toBe('loading');
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('authenticated'));
    expect(screen.getByTestId('user').textContent).toBe('alice');
    expect(bff.count('/refresh')).toBe(1);
  });

  it('login and logout from the hook', async () => {
    const bff = createFakeBff({ signedIn: false });
    const client = makeClient(bff, {}, clients);
    render(
      <SessionProvider client={client}>
        <Status />
      </SessionProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('unauthenticated'));
    fireEvent.click(screen.getByText('login'));
    await waitFor(() => expect(screen.getByTestId('user').textContent).toBe('alice'));
    fireEvent.click(screen.getByText('logout'));
    await waitFor(() => expect(screen.getByTestId('reason').textContent).toBe('logout'));
    expect(screen.getByTestId('status').textContent).toBe('unauthenticated');
  });

  it('does not destroy a client it did not create, and restores once under StrictMode', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    const destroy = vi.spyOn(client, 'destroy');
    const { unmount } = render(
      <StrictMode>
        <SessionProvider client={client}>
          <Status />
        </SessionProvider>
      </StrictMode>,
    );
    await waitFor(() => expect(screen.getByTestId('status').textContent).toBe('authenticated'));
    unmount();
    expect(destroy).not.toHaveBeenCalled();
    expect(bff.count('/refresh')).toBe(1);
  });

  it('useSession outside a provider says what is missing', () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(() => render(<Status />)).toThrow(/SessionProvider/);
  });

  it('re-renders only when the snapshot changes', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    let renders = 0;
    function Counter() {
      renders++;
      useSession();
      return null;
    }
    render(
      <SessionProvider client={client}>
        <Counter />
      </SessionProvider>,
    );
    await waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    const settled = renders;
    await act(() => client.refresh());
    expect(renders).toBe(settled);
  });
});

describe('RequireSession', () => {
  it('shows loading, then the fallback when signed out, then the children when signed in', async () => {
    const bff = createFakeBff({ signedIn: false });
    // A hint cookie left behind (its session is gone): the client asks the BFF, and shows `loading` meanwhile.
    document.cookie = `${HINT_COOKIE}=1; path=/`;
    const client = makeClient(bff, {}, clients);
    render(
      <SessionProvider client={client}>
        <RequireSession fallback={<p>please sign in</p>} loading={<p>restoring</p>}>
          <p>secret</p>
        </RequireSession>
      </SessionProvider>,
    );
    expect(screen.getByText('restoring')).toBeTruthy();
    await screen.findByText('please sign in');
    expect(screen.queryByText('secret')).toBeNull();
    await act(() => client.login({ username: 'alice', password: 'wonderland' }));
    expect(screen.getByText('secret')).toBeTruthy();
    expect(screen.queryByText('please sign in')).toBeNull();
  });
});

describe('useDevices', () => {
  it('lists the devices, revokes another one, and reloads', async () => {
    const bff = createFakeBff();
    bff.state.sessions = [
      { id: 's1', deviceName: 'Laptop', userAgent: 'ua', createdAt: 1, lastActiveAt: 2, current: true },
      { id: 's2', deviceName: 'Phone', userAgent: 'ua', createdAt: 1, lastActiveAt: 2, current: false },
    ];
    const client = makeClient(bff, {}, clients);
    function Devices() {
      const { devices, revoke } = useDevices();
      const [error, setError] = useState('');
      return (
        <ul>
          {devices.map((d) => (
            <li key={d.id}>
              {d.deviceName}
              {d.current ? ' (this device)' : ''}
              <button onClick={() => void revoke(d.id).catch((e: Error) => setError(e.message))}>revoke {d.id}</button>
            </li>
          ))}
          {error}
        </ul>
      );
    }
    render(
      <SessionProvider client={client}>
        <Devices />
      </SessionProvider>,
    );
    await screen.findByText('Laptop (this device)');
    expect(screen.getByText('Phone')).toBeTruthy();

    bff.once('/sessions', () => Response.json({ sessions: [bff.state.sessions[0]] }));
    fireEvent.click(screen.getByText('revoke s2'));
    await waitFor(() => expect(screen.queryByText('Phone')).toBeNull());
    expect(bff.calls.some((c) => c.method == 'DELETE' && c.path == '/sessions/s2')).toBe(true);

    // Revoking this device signs out, and the list empties.
    fireEvent.click(screen.getByText('revoke s1'));
    await waitFor(() => expect(client.getSnapshot().status).toBe('unauthenticated'));
    await waitFor(() => expect(screen.queryByText('Laptop (this device)')).toBeNull());
  });

  it('reloads the list whenever the live handle reports a change', async () => {
    const bff = createFakeBff();
    bff.state.sessions = [{ id: 's1', deviceName: 'Laptop', userAgent: 'ua', createdAt: 1, lastActiveAt: 2, current: true }];
    const client = makeClient(bff, {}, clients);
    const listeners = new Set<() => void>();
    const live = { onDevicesChanged: (l: () => void) => (listeners.add(l), () => void listeners.delete(l)) };
    function Devices() {
      const { devices } = useDevices(live);
      return (
        <ul>
          {devices.map((d) => (
            <li key={d.id}>{d.deviceName}</li>
          ))}
        </ul>
      );
    }
    const view = render(
      <SessionProvider client={client}>
        <Devices />
      </SessionProvider>,
    );
    await screen.findByText('Laptop');
    bff.state.sessions = [...bff.state.sessions, { id: 's2', deviceName: 'Phone', userAgent: 'ua', createdAt: 3, lastActiveAt: 3, current: false }];
    act(() => listeners.forEach((l) => l()));
    await screen.findByText('Phone');
    view.unmount();
    expect(listeners.size).toBe(0);
  });
});
