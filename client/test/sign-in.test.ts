import { useSession, SessionProvider } from '@latchkey/client/react';
import { act, render } from '@testing-library/react';
import { createElement } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFakeBff, json, makeClient, useSingleTabClients } from './support/fake-bff.js';

const clients = useSingleTabClients();

function stubLocation(href: string) {
  const assign = vi.fn();
  vi.stubGlobal('location', { href, assign });
  return assign;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('signIn (identity provider)', () => {
  it('navigates to <bffUrl>/oidc/login with returnTo, default the current page', () => {
    const assign = stubLocation('https://app.example.test/orders?id=7');
    const client = makeClient(createFakeBff({ signedIn: false }), { bffUrl: 'https://app.example.test/auth/' }, clients);
    client.signIn();
    expect(assign).toHaveBeenLastCalledWith('https://app.example.test/auth/oidc/login?returnTo=' + encodeURIComponent('https://app.example.test/orders?id=7'));
    client.signIn({ returnTo: '/after sign-in?x=1&y=2' });
    // Form-encoded (a space is `+`), as the BFF's query parser reads it.
    expect(assign).toHaveBeenLastCalledWith('https://app.example.test/auth/oidc/login?returnTo=%2Fafter+sign-in%3Fx%3D1%26y%3D2');
  });

  it('names the provider and carries the device name; unset or empty ones are left out', () => {
    const assign = stubLocation('https://app.example.test/');
    const client = makeClient(createFakeBff({ signedIn: false }), { bffUrl: '/auth' }, clients);
    client.signIn({ provider: 'github', deviceName: 'Work laptop', returnTo: '/x' });
    const url = new URL(assign.mock.lastCall![0] as string, 'https://app.example.test');
    expect(url.pathname).toBe('/auth/oidc/login');
    expect(Object.fromEntries(url.searchParams)).toEqual({ provider: 'github', deviceName: 'Work laptop', returnTo: '/x' });
    client.signIn({ provider: undefined, deviceName: '' } as never);
    expect(assign).toHaveBeenLastCalledWith('/auth/oidc/login?returnTo=' + encodeURIComponent('https://app.example.test/'));
  });

  it('is on the React hook', async () => {
    const assign = stubLocation('https://app.example.test/');
    const client = makeClient(createFakeBff({ signedIn: false }), {}, clients);
    let signIn: ((o?: { returnTo?: string }) => void) | undefined;
    function Probe() {
      signIn = useSession().signIn;
      return null;
    }
    await act(async () => void render(createElement(SessionProvider, { client }, createElement(Probe))));
    signIn!({ returnTo: '/x' });
    expect(assign).toHaveBeenCalledWith('/auth/oidc/login?returnTo=%2Fx');
  });
});

describe('logout of a session from an identity provider', () => {
  it('signs out here, then follows { redirectTo } to the IdP end-session page', async () => {
    const assign = stubLocation('https://app.example.test/');
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    client.start();
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    const endSession = 'https://idp.example.test/logout?id_token_hint=x&post_logout_redirect_uri=https%3A%2F%2Fapp.example.test%2F';
    bff.once('/logout', () => json(200, { redirectTo: endSession }));
    await client.logout();
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'logout' });
    expect(assign).toHaveBeenCalledExactlyOnceWith(endSession);
  });

  it('a 204 (password session) does not navigate', async () => {
    const assign = stubLocation('https://app.example.test/');
    const client = makeClient(createFakeBff(), {}, clients);
    client.start();
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    await client.logout();
    expect(client.getSnapshot().status).toBe('unauthenticated');
    expect(assign).not.toHaveBeenCalled();
  });
});

describe('error bodies', () => {
  it('pass the BFF code and message on; a body without a code is bad_response', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    client.start();
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    bff.once('/sessions', () => json(400, { error: 'oidc_login_failed', message: 'Start again.' }));
    await expect(client.listSessions()).rejects.toMatchObject({ code: 'oidc_login_failed', status: 400, message: 'Start again.' });
    bff.once('/sessions', () => json(502, { detail: 'upstream' }));
    await expect(client.listSessions()).rejects.toMatchObject({ code: 'bad_response', status: 502 });
  });
});
