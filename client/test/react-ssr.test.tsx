// @vitest-environment node
import { createSessionClient } from '@latchkey/client';
import { RequireSession, SessionProvider, useSession } from '@latchkey/client/react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it, vi } from 'vitest';

function Status() {
  const { status, user } = useSession();
  return (
    <p>
      {status}:{user?.name ?? 'nobody'}
    </p>
  );
}

describe('server rendering', () => {
  it('renders the loading snapshot without window, network or timers', () => {
    expect(typeof window).toBe('undefined');
    const fetch = vi.fn();
    const client = createSessionClient({ fetch });
    const html = renderToString(
      <SessionProvider client={client}>
        <Status />
        <RequireSession fallback={<p>sign in</p>} loading={<p>restoring</p>}>
          <p>secret</p>
        </RequireSession>
      </SessionProvider>,
    );
    expect(html).toContain('loading<!-- -->:<!-- -->nobody');
    expect(html).toContain('restoring');
    expect(html).not.toContain('secret');
    expect(fetch).not.toHaveBeenCalled();
  });

  it('renders the initial session the server read: authenticated, with no request, and the shared client left untouched', () => {
    const fetch = vi.fn();
    // One module-level client serves every request on a server: one render's session must not leak into another's.
    const client = createSessionClient({ fetch });
    const page = (initialSession: Parameters<typeof SessionProvider>[0]['initialSession']) =>
      renderToString(
        <SessionProvider client={client} initialSession={initialSession}>
          <Status />
          <RequireSession fallback={<p>sign in</p>} loading={<p>restoring</p>}>
            <p>secret</p>
          </RequireSession>
        </SessionProvider>,
      );
    const alice = page({ user: { id: 'u-alice', name: 'Alice' }, session: { id: 's1', deviceName: 'Laptop', createdAt: 1 } });
    expect(alice).toContain('authenticated<!-- -->:<!-- -->Alice');
    expect(alice).toContain('secret');
    const signedOut = page(null);
    expect(signedOut).toContain('unauthenticated<!-- -->:<!-- -->nobody');
    expect(signedOut).toContain('sign in');
    expect(signedOut).not.toContain('secret');
    expect(client.getSnapshot().status).toBe('loading');
    expect(fetch).not.toHaveBeenCalled();
  });
});
