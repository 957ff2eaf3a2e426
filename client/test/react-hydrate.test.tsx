import { act, cleanup } from '@testing-library/react';
import type { InitialSession, SessionClient } from '@latchkey/client';
import { RequireSession, SessionProvider, useSession } from '@latchkey/client/react';
import { hydrateRoot, type Root } from 'react-dom/client';
import { renderToString } from 'react-dom/server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFakeBff, flush, makeClient, useSingleTabClients } from './support/fake-bff.js';

const clients = useSingleTabClients();
let root: Root | undefined;
afterEach(() => {
  act(() => root?.unmount());
  root = undefined;
  cleanup();
});

const ALICE: InitialSession = { user: { id: 'u-alice', name: 'alice' }, session: { id: 's1', deviceName: 'Test device', createdAt: 1 } };

/** The status of every render of the page, in order. */
let renders: string[] = [];

function Page() {
  const { status, user } = useSession();
  renders.push(status);
  return (
    <main>
      <p data-testid="status">
        {status}:{user?.name ?? 'nobody'}
      </p>
      <RequireSession fallback={<p>sign in</p>}>
        <p>welcome</p>
      </RequireSession>
    </main>
  );
}

/** Server HTML (from a server-side client), then hydrateRoot in the browser, as an SSR page loads; records every render's status. */
async function loadPage(browser: SessionClient, initialSession: InitialSession | null) {
  const server = makeClient(createFakeBff(), {}, clients);
  const app = (client: SessionClient) => (
    <SessionProvider client={client} initialSession={initialSession}>
      <Page />
    </SessionProvider>
  );
  const container = document.createElement('div');
  container.innerHTML = renderToString(app(server));
  const firstHtml = container.innerHTML;
  document.body.append(container);
  const errors: unknown[] = [];
  const consoleError = vi.spyOn(console, 'error').mockImplementation((...args) => void errors.push(args));
  renders = [];
  await act(async () => {
    root = hydrateRoot(container, app(browser), { onRecoverableError: (error) => void errors.push(error) });
  });
  await act(() => flush());
  consoleError.mockRestore();
  return { container, firstHtml, errors, renders: [...renders] };
}

describe('<SessionProvider initialSession>', () => {
  it('hydrates the signed-in page the server rendered without a mismatch, a flash or a request; the token comes on the first API call', async () => {
    const bff = createFakeBff();
    const browser = makeClient(bff, {}, clients);
    const signedIn = vi.fn();
    const refreshed = vi.fn();
    browser.on('signed_in', signedIn);
    browser.on('refreshed', refreshed);
    const { container, firstHtml, errors, renders } = await loadPage(browser, ALICE);
    expect(firstHtml).toContain('authenticated<!-- -->:<!-- -->alice');
    expect(errors).toEqual([]);
    expect(container.innerHTML).toBe(firstHtml);
    // Never loading: every render in the browser was authenticated, and start() sent nothing.
    expect(new Set(renders)).toEqual(new Set(['authenticated']));
    expect(browser.getSnapshot()).toMatchObject({ status: 'authenticated', user: ALICE.user, session: ALICE.session });
    expect(bff.calls).toHaveLength(0);

    const before = browser.getSnapshot();
    expect(await browser.getAccessToken()).toBe('t1');
    expect(bff.count('/refresh')).toBe(1);
    // The same session as the page showed: not a new sign-in, and the snapshot's user and session objects are kept.
    expect(signedIn).not.toHaveBeenCalled();
    expect(refreshed).toHaveBeenCalledTimes(1);
    expect(browser.getSnapshot().user).toBe(before.user);
    expect(browser.getSnapshot().session).toBe(before.session);
    expect(await browser.getAccessToken()).toBe('t1');
    expect(bff.count('/refresh')).toBe(1);
  });

  it('a signed-out initial session shows the signed-out UI with no request at all, hint cookie or not', async () => {
    const bff = createFakeBff({ signedIn: true });
    const browser = makeClient(bff, {}, clients);
    const { container, errors, renders } = await loadPage(browser, null);
    expect(errors).toEqual([]);
    expect(container.textContent).toContain('unauthenticated:nobody');
    expect(container.textContent).toContain('sign in');
    expect(new Set(renders)).toEqual(new Set(['unauthenticated']));
    expect(bff.calls).toHaveLength(0);
    expect(await browser.getAccessToken()).toBeNull();
    expect(bff.calls).toHaveLength(0);
  });

  it('a session that ended since the render is signed out by the first token request', async () => {
    const bff = createFakeBff({ signedIn: false });
    const browser = makeClient(bff, {}, clients);
    const signedOut = vi.fn();
    browser.on('signed_out', signedOut);
    await loadPage(browser, ALICE);
    expect(browser.getSnapshot().status).toBe('authenticated');
    expect(await browser.getAccessToken()).toBeNull();
    expect(browser.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'no_session' });
    expect(signedOut).toHaveBeenCalledWith({ reason: 'no_session' });
  });

  it('without initialSession the page starts as loading and restores the session as before', async () => {
    const bff = createFakeBff();
    const browser = makeClient(bff, {}, clients);
    const { firstHtml, errors, renders } = await loadPage(browser, undefined as never);
    expect(firstHtml).toContain('loading');
    expect(renders[0]).toBe('loading');
    expect(errors).toEqual([]);
    expect(browser.getSnapshot().status).toBe('authenticated');
    expect(bff.count('/refresh')).toBe(1);
  });
});
