import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SESSION_ENDING_CODES, type SignOutReason } from '@latchkey/shared';
import { SessionError, createSessionClient, type SessionClient } from '@latchkey/client';
import { describe, expect, it, vi } from 'vitest';
import { HINT_COOKIE, createFakeBff, errorResponse, json, makeClient, useSingleTabClients } from './support/fake-bff.js';

// Single-tab behaviour: no other tab to ask, so start() refreshes at once.
const clients = useSingleTabClients();

async function settle(client: SessionClient) {
  await vi.waitFor(() => expect(client.getSnapshot().status).not.toBe('loading'));
}

describe('options', () => {
  it('are validated once and frozen', () => {
    const client = createSessionClient({ bffUrl: 'https://bff.example.test/auth/', apiOrigins: ['https://API.example.test'] });
    expect(client.options.bffUrl).toBe('https://bff.example.test/auth');
    expect(client.options.apiOrigins).toEqual(['https://api.example.test']);
    expect(Object.isFrozen(client.options)).toBe(true);
    expect(Object.isFrozen(client.options.apiOrigins)).toBe(true);
  });

  it.each([
    [{ refreshMargin: 5 }],
    [{ bffUrl: 'auth' }],
    [{ apiOrigins: ['https://api.example.test/v1'] }],
    [{ apiOrigins: ['not a url'] }],
    [{ refreshMarginMs: -1 }],
    [{ backoffMinMs: 5000, backoffMaxMs: 10 }],
    [{ fetch: 'nope' }],
  ])('rejects %j', (options) => {
    expect(() => createSessionClient(options as never)).toThrow(TypeError);
  });

  it('creating a client touches neither the network nor the page', () => {
    const bff = createFakeBff();
    makeClient(bff, {}, clients);
    expect(bff.calls).toHaveLength(0);
  });
});

describe('state machine', () => {
  it('starts loading, restores the session with POST refresh, becomes authenticated', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    const signedIn = vi.fn();
    client.on('signed_in', signedIn);
    expect(client.getSnapshot().status).toBe('loading');
    client.start();
    await settle(client);

    const snapshot = client.getSnapshot();
    expect(snapshot).toMatchObject({ status: 'authenticated', unreachable: false, signOutReason: null });
    expect(snapshot.user).toEqual({ id: 'u-alice', name: 'alice' });
    expect(snapshot.session?.id).toBe('s1');
    expect(signedIn).toHaveBeenCalledTimes(1);
    expect(await client.getAccessToken()).toBe('t1');

    const [call] = bff.calls;
    expect(call).toMatchObject({ method: 'POST', path: '/refresh', credentials: 'include' });
    expect(call!.url).toBe('/auth/refresh');
    expect(call!.headers['x-csrf']).toBe('1');
    expect(call!.headers['content-type']).toBe('application/json');
  });

  it('without a session cookie becomes unauthenticated without a sign-out event', async () => {
    const bff = createFakeBff({ signedIn: false });
    const client = makeClient(bff, {}, clients);
    const signedOut = vi.fn();
    client.on('signed_out', signedOut);
    client.start();
    await settle(client);
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: null, user: null });
    expect(signedOut).not.toHaveBeenCalled();
    expect(await client.getAccessToken()).toBeNull();
    // No hint cookie: nothing to restore, so no request (a 401 a browser would log as a console error).
    expect(bff.count('/refresh')).toBe(0);
  });

  it('with a hint cookie whose session is gone asks the BFF, and a 401 no_session is just "signed out"', async () => {
    const bff = createFakeBff({ signedIn: false });
    document.cookie = `${HINT_COOKIE}=1; path=/`;
    const client = makeClient(bff, {}, clients);
    const signedOut = vi.fn();
    client.on('signed_out', signedOut);
    client.start();
    expect(client.getSnapshot().status).toBe('loading');
    await settle(client);
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: null });
    expect(signedOut).not.toHaveBeenCalled();
    expect(bff.count('/refresh')).toBe(1);
  });

  it("reads any app's hint (`<cookie.name>-hint`), and always asks a BFF on another origin, whose cookies it cannot read", async () => {
    const custom = createFakeBff();
    document.cookie = `${HINT_COOKIE}=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
    document.cookie = 'orders-hint=1; path=/';
    const a = makeClient(custom, {}, clients);
    a.start();
    await settle(a);
    expect(a.getSnapshot().status).toBe('authenticated');
    document.cookie = 'orders-hint=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT';

    const crossOrigin = createFakeBff();
    document.cookie = `${HINT_COOKIE}=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
    const b = makeClient(crossOrigin, { bffUrl: 'https://bff.example.test/auth' }, clients);
    b.start();
    await settle(b);
    expect(b.getSnapshot().status).toBe('authenticated');
    expect(crossOrigin.count('/refresh')).toBe(1);
  });

  it('keeps the same snapshot object until something changes', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    const listener = vi.fn();
    client.subscribe(listener);
    client.start();
    await settle(client);
    const first = client.getSnapshot();
    expect(client.getSnapshot()).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    const notifications = listener.mock.calls.length;

    // A refresh of the same session changes nothing the UI shows.
    await client.refresh();
    expect(bff.count('/refresh')).toBe(2);
    expect(client.getSnapshot()).toBe(first);
    expect(listener).toHaveBeenCalledTimes(notifications);
  });

  it('unsubscribe stops notifications', async () => {
    const client = makeClient(createFakeBff(), {}, clients);
    const listener = vi.fn();
    const unsubscribe = client.subscribe(listener);
    unsubscribe();
    client.start();
    await settle(client);
    expect(listener).not.toHaveBeenCalled();
  });

  it('login signs in; wrong credentials throw a SessionError and change nothing', async () => {
    const bff = createFakeBff({ signedIn: false });
    const client = makeClient(bff, {}, clients);
    client.start();
    await settle(client);

    const error = await client.login({ username: 'alice', password: 'nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionError);
    expect(error).toMatchObject({ code: 'invalid_credentials', status: 401 });
    expect(client.getSnapshot().status).toBe('unauthenticated');

    const signedIn = vi.fn();
    client.on('signed_in', signedIn);
    await client.login({ username: 'alice', password: 'wonderland', deviceName: 'Laptop' });
    expect(bff.calls.at(-1)).toMatchObject({
      path: '/login',
      body: { username: 'alice', password: 'wonderland', deviceName: 'Laptop' },
      credentials: 'include',
    });
    expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', user: { name: 'alice' } });
    expect(signedIn).toHaveBeenCalledWith({ user: { id: 'u-alice', name: 'alice' }, session: expect.objectContaining({ id: 's1' }) });
  });

  it.each([
    ['logout', '/logout'],
    ['logout_all', '/logout-all'],
  ] as const)('%s signs out with that reason', async (reason, path) => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    const signedOut = vi.fn();
    client.on('signed_out', signedOut);
    client.start();
    await settle(client);

    await (reason == 'logout' ? client.logout() : client.logoutAll());
    expect(bff.calls.at(-1)).toMatchObject({ method: 'POST', path, headers: { 'x-csrf': '1' } });
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: reason, session: null });
    expect(signedOut).toHaveBeenCalledWith({ reason });
    expect(await client.getAccessToken()).toBeNull();
  });

  it('logoutOthers asks the BFF (X-CSRF) and stays signed in, in this tab and the others, with the same token', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    const signedOut = vi.fn();
    client.on('signed_out', signedOut);
    client.start();
    await settle(client);
    const token = await client.getAccessToken();

    await client.logoutOthers();
    expect(bff.calls.at(-1)).toMatchObject({ method: 'POST', path: '/logout-others', headers: { 'x-csrf': '1' }, credentials: 'include' });
    expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', signOutReason: null });
    expect(await client.getAccessToken()).toBe(token);
    expect(signedOut).not.toHaveBeenCalled();
  });

  it('logoutOthers answered 401 (this session is gone too) rejects, and the refresh it triggers signs out', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    client.start();
    await settle(client);
    bff.state.signedIn = false;
    bff.once('/refresh', () => errorResponse(401, 'session_revoked'));
    await expect(client.logoutOthers()).rejects.toMatchObject({ code: 'no_session', status: 401 });
    await vi.waitFor(() => expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'session_revoked' }));
  });

  it('logout signs out locally even when the BFF is unreachable, and reports the failure', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    client.start();
    await settle(client);
    bff.once('/logout', () => Promise.reject(new TypeError('Failed to fetch')));
    await expect(client.logout()).rejects.toMatchObject({ code: 'network_error' });
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'logout' });
  });

  it('end(reason) signs out locally with that reason and tells listeners, without calling the BFF', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    const signedOut = vi.fn();
    client.on('signed_out', signedOut);
    client.start();
    await settle(client);
    const calls = bff.calls.length;
    client.end('session_revoked');
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'session_revoked', session: null });
    expect(signedOut).toHaveBeenCalledWith({ reason: 'session_revoked' });
    expect(await client.getAccessToken()).toBeNull();
    expect(bff.calls.length).toBe(calls);
  });

  it('an error code this client does not know still reaches the caller; a non-code error body is bad_response', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    client.start();
    await settle(client);
    bff.once('/sessions', () => json(429, { error: 'too_many_connections', message: 'later' }));
    await expect(client.listSessions()).rejects.toMatchObject({ code: 'too_many_connections', status: 429, message: 'later' });
    bff.once('/sessions', () => json(502, { error: 'Bad Gateway' }));
    await expect(client.listSessions()).rejects.toMatchObject({ code: 'bad_response', status: 502 });
  });

  it('reuse_detected on refresh signs out and reports theft', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    const theft = vi.fn();
    const signedOut = vi.fn();
    client.on('theft_detected', theft);
    client.on('signed_out', signedOut);
    client.start();
    await settle(client);

    bff.once('/refresh', () => errorResponse(401, 'reuse_detected'));
    expect(await client.refresh()).toBeNull();
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'reuse_detected' });
    expect(theft).toHaveBeenCalledTimes(1);
    expect(signedOut).toHaveBeenCalledWith({ reason: 'reuse_detected' });
  });

  it.each(SESSION_ENDING_CODES)('a 401 %s from refresh ends the session', async (code) => {
    vi.useFakeTimers();
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    const signedOut = vi.fn();
    client.on('signed_out', signedOut);
    client.start();
    await settle(client);

    bff.once('/refresh', () => errorResponse(401, code));
    await client.refresh();
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: code });
    expect(signedOut).toHaveBeenCalledWith({ reason: code as SignOutReason });
    // Nothing is retried after a definitive answer: not even past the longest backoff (backoffMaxMs, 60 s; fake time).
    await vi.advanceTimersByTimeAsync(60_000);
    expect(bff.count('/refresh')).toBe(2);
  });

  it.each([
    ['a 401 that is not about the session', () => errorResponse(401, 'invalid_token')],
    ['a 429 rate_limited (refresh limits are retried, never a sign-out)', () => errorResponse(429, 'rate_limited')],
    ['a 200 that is not JSON', () => new Response('<html>', { status: 200 })],
  ])('%s does not end the session', async (_, respond) => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    client.start();
    await settle(client);
    bff.once('/refresh', respond);
    await expect(client.refresh()).rejects.toBeInstanceOf(SessionError);
    expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', unreachable: true });
  });

  it('a 403 csrf_rejected is a configuration error: in the snapshot, once on the console naming origins.allowed, never retried', async () => {
    vi.useFakeTimers();
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    const bff = createFakeBff();
    bff.once('/refresh', () => errorResponse(403, 'csrf_rejected'));
    const client = makeClient(bff, {}, clients);
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    // Settled (the page shows its signed-out view and the error), not 'unreachable' and loading forever.
    expect(client.getSnapshot()).toMatchObject({
      status: 'unauthenticated',
      unreachable: false,
      signOutReason: null,
      error: { code: 'csrf_rejected', status: 403 },
    });
    expect(consoleError).toHaveBeenCalledTimes(1);
    expect(consoleError.mock.calls[0]![0]).toMatch(/csrf_rejected.*origins\.allowed/);
    // The sign-in form meets it too: still in the snapshot, not logged again.
    bff.once('/login', () => errorResponse(403, 'csrf_rejected'));
    await expect(client.login({ username: 'alice', password: 'wonderland' })).rejects.toMatchObject({ code: 'csrf_rejected' });
    expect(client.getSnapshot().error).toMatchObject({ code: 'csrf_rejected' });
    expect(consoleError).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(bff.count('/refresh')).toBe(1);
    // Fixed on the BFF: the next sign-in clears it.
    await client.login({ username: 'alice', password: 'wonderland' });
    expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', error: null });
  });

  it('a 403 csrf_rejected on the refresh of a signed-in page keeps the session and reports the error, not unreachable', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => {});
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    client.start();
    await settle(client);
    bff.once('/refresh', () => errorResponse(403, 'csrf_rejected'));
    await expect(client.refresh()).rejects.toMatchObject({ code: 'csrf_rejected' });
    expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', unreachable: false, error: { code: 'csrf_rejected' } });
    expect(await client.getAccessToken()).toBe('t1');
  });

  it('a session that expired before this page loaded reports why', async () => {
    const bff = createFakeBff();
    bff.once('/refresh', () => errorResponse(401, 'session_expired'));
    const client = makeClient(bff, {}, clients);
    client.start();
    await settle(client);
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'session_expired' });
  });

  it('lists sessions and revokes another device; revoking this device is a logout', async () => {
    const bff = createFakeBff();
    bff.state.sessions = [
      { id: 's1', deviceName: 'Laptop', userAgent: 'ua', createdAt: 1, lastActiveAt: 2, current: true },
      { id: 's/2', deviceName: 'Phone', userAgent: 'ua', createdAt: 1, lastActiveAt: 2, current: false },
    ];
    const client = makeClient(bff, {}, clients);
    client.start();
    await settle(client);

    expect(await client.listSessions()).toEqual(bff.state.sessions);
    await client.revokeSession('s/2');
    expect(bff.calls.at(-1)).toMatchObject({ method: 'DELETE', path: '/sessions/s%2F2', headers: { 'x-csrf': '1' } });
    expect(client.getSnapshot().status).toBe('authenticated');

    await client.revokeSession('s1');
    expect(bff.calls.at(-1)).toMatchObject({ method: 'POST', path: '/logout' });
    expect(client.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'logout' });
  });

  it('a 401 on the session list asks refresh for the definitive answer', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    client.start();
    await settle(client);
    bff.state.signedIn = false; // revoked from another device
    await expect(client.listSessions()).rejects.toMatchObject({ code: 'no_session', status: 401 });
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('unauthenticated'));
  });

  it('a throwing event listener does not break the state machine', async () => {
    vi.useFakeTimers();
    const client = makeClient(createFakeBff(), {}, clients);
    client.on('signed_in', () => {
      throw new Error('listener bug');
    });
    client.start();
    // The listener's error is rethrown from a timer of its own, after the state is settled.
    await expect(vi.advanceTimersByTimeAsync(0)).rejects.toThrow('listener bug');
    expect(client.getSnapshot().status).toBe('authenticated');
    expect(await client.getAccessToken()).toBe('t1');
  });
});

describe('lifecycle', () => {
  it('start() is idempotent and works again after destroy() (React StrictMode does this)', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const bff = createFakeBff({ ttlMs: 300_000 });
    const client = makeClient(bff, { refreshMarginMs: 60_000 }, clients);
    client.start();
    client.start();
    client.destroy();
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(bff.count('/refresh')).toBe(1);
    expect(client.getSnapshot().status).toBe('authenticated');
    // The proactive timer belongs to the running client only.
    client.destroy();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(bff.count('/refresh')).toBe(1);
    client.start(); // the token is past its refresh time: refresh at once
    await vi.advanceTimersByTimeAsync(0);
    expect(bff.count('/refresh')).toBe(2);
  });

  it('two clients share nothing', async () => {
    // Made in this order so that both see one's hint cookie (happy-dom has one cookie jar): b asks its BFF too.
    const two = createFakeBff({ signedIn: false });
    const one = createFakeBff();
    const a = makeClient(one, {}, clients);
    const b = makeClient(two, {}, clients);
    a.start();
    b.start();
    await settle(a);
    await settle(b);
    expect(a.getSnapshot().status).toBe('authenticated');
    expect(b.getSnapshot().status).toBe('unauthenticated');
  });
});

describe('token lifetime', () => {
  it('refreshes proactively before expiry, with jitter inside the margin', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const bff = createFakeBff({ ttlMs: 300_000 });
    const client = makeClient(bff, { refreshMarginMs: 60_000 }, clients);
    const refreshed = vi.fn();
    client.on('refreshed', refreshed);
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(bff.count('/refresh')).toBe(1);

    // Due at expiry - margin - jitter (0.5 * margin / 2 = 15 s): 225 s after issue.
    await vi.advanceTimersByTimeAsync(224_000);
    expect(bff.count('/refresh')).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(bff.count('/refresh')).toBe(2);
    expect(refreshed).toHaveBeenCalledTimes(1);
    expect(await client.getAccessToken()).toBe('t2');
  });

  it('getAccessToken refreshes first when the token is within the margin', async () => {
    vi.useFakeTimers();
    const bff = createFakeBff({ ttlMs: 300_000 });
    const client = makeClient(bff, { refreshMarginMs: 60_000 }, clients);
    await client.login({ username: 'alice', password: 'wonderland' }); // not started: no timers
    expect(await client.getAccessToken()).toBe('t1');
    vi.setSystemTime(Date.now() + 241_000);
    expect(await client.getAccessToken()).toBe('t2');
    expect(bff.count('/refresh')).toBe(1);
  });

  it('short-lived tokens do not cause a refresh loop (margin capped at half the lifetime)', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const bff = createFakeBff({ ttlMs: 10_000 });
    const client = makeClient(bff, { refreshMarginMs: 60_000 }, clients);
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(bff.count('/refresh')).toBe(1);
    expect(await client.getAccessToken()).toBe('t1');
    // Margin 5 s (half of 10 s), jitter 1.25 s: one refresh every 3.75 s, at 3.75, 7.5, 11.25, 15 and 18.75 s.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(bff.count('/refresh')).toBe(6);
  });

  it('reads expiry in the BFF clock (Date header), so a skewed browser clock does not loop', async () => {
    vi.useFakeTimers();
    const bff = createFakeBff();
    // The BFF's clock is 10 minutes behind the browser's: by the browser clock the token already expired.
    const serverNow = Date.now() - 600_000;
    const token = {
      accessToken: 'skewed',
      tokenType: 'Bearer',
      expiresAt: serverNow + 300_000,
      user: { id: 'u', name: 'u' },
      session: { id: 's1', deviceName: 'd', createdAt: 1 },
    };
    bff.once('/refresh', () => json(200, token, { date: new Date(serverNow).toUTCString() }));
    const client = makeClient(bff, {}, clients);
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(await client.getAccessToken()).toBe('skewed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(bff.count('/refresh')).toBe(1);
  });
});

describe('storage', () => {
  it('no client source mentions browser storage or writes a cookie', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '../src');
    const files: string[] = [];
    const walk = (dir: string) =>
      readdirSync(dir).forEach((name) => {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else files.push(path);
      });
    walk(root);
    expect(files.length).toBeGreaterThan(5);
    // Spelled in pieces so that this test does not trip the repository's own grep for these words.
    // Reading document.cookie is allowed (the BFF's hint cookie); writing one is not.
    const forbidden = new RegExp(['local' + 'Storage', 'session' + 'Storage', 'indexed' + 'DB', 'document\\.' + 'cookie\\s*=[^=]'].join('|'), 'i');
    for (const file of files) expect(readFileSync(file, 'utf8'), file).not.toMatch(forbidden);
  });
});
