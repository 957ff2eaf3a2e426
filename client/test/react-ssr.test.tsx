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
});
