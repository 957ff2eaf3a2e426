import type { SessionClient } from '@latchkey/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createFakeBff, deferred, json, makeClient } from './support/fake-bff.js';
import { createFakeLocks } from './support/fake-locks.js';

// Two clients on one BroadcastChannel name and one fake BFF (one cookie jar) are two tabs of one browser.
// These tests use Node's real BroadcastChannel: message delivery is asynchronous. What must NOT happen is checked on
// fake timers or against an explicit signal, never after a real-time sleep (which a busy machine can stretch).

const clients: SessionClient[] = [];
let channel = 0;

afterEach(() => {
  vi.useRealTimers();
  clients.splice(0).forEach((c) => c.destroy());
  if ('locks' in navigator && Object.getOwnPropertyDescriptor(navigator, 'locks')) delete (navigator as { locks?: unknown }).locks;
  vi.restoreAllMocks();
});

function twoTabs(options: { locks?: boolean; bff?: ReturnType<typeof createFakeBff> } = {}) {
  const bff = options.bff ?? createFakeBff();
  const channelName = `tabs-${process.pid}-${++channel}`;
  const locks = options.locks ? createFakeLocks() : undefined;
  if (locks) Object.defineProperty(navigator, 'locks', { value: locks, configurable: true });
  const a = makeClient(bff, { channelName, handoverWaitMs: 150 }, clients);
  const b = makeClient(bff, { channelName, handoverWaitMs: 150 }, clients);
  return { bff, a, b, locks, channelName };
}

async function startBoth(a: SessionClient, b: SessionClient) {
  a.start();
  await vi.waitFor(() => expect(a.getSnapshot().status).toBe('authenticated'));
  b.start();
  await vi.waitFor(() => expect(b.getSnapshot().status).toBe('authenticated'));
}

describe('tabs of one browser: presence (Web Locks)', () => {
  it('a starting tab refreshes at once when no tab holds a token (no handover wait)', async () => {
    Object.defineProperty(navigator, 'locks', { value: createFakeLocks(), configurable: true });
    const bff = createFakeBff();
    const tab = makeClient(bff, { channelName: `presence-${process.pid}-${++channel}`, handoverWaitMs: 5000 }, clients);
    tab.start();
    // Without the presence check it would wait the whole 5 s for an answer nobody can give.
    await vi.waitFor(() => expect(tab.getSnapshot().status).toBe('authenticated'), { timeout: 1000 });
    expect(bff.count('/refresh')).toBe(1);
  });

  it('a starting tab waits well past handoverWaitMs when another tab holds a token', async () => {
    vi.useFakeTimers();
    const locks = createFakeLocks();
    Object.defineProperty(navigator, 'locks', { value: locks, configurable: true });
    const channelName = `presence-${process.pid}-${++channel}`;
    // A tab that holds a token but is too busy to answer yet.
    void locks.request(`${channelName}:holder`, { mode: 'shared' }, () => new Promise(() => {}));
    const bff = createFakeBff();
    const tab = makeClient(bff, { channelName, handoverWaitMs: 200 }, clients);
    tab.start();
    // Fake time: however busy the machine, no refresh until 10 × handoverWaitMs have passed.
    await vi.advanceTimersByTimeAsync(10 * 200 - 1);
    expect(bff.count('/refresh')).toBe(0);
    // Nobody answered within 10 × handoverWaitMs: it refreshes itself.
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(tab.getSnapshot().status).toBe('authenticated'), { timeout: 4000 });
    expect(bff.count('/refresh')).toBe(1);
  });
});

describe('tabs of one browser', () => {
  it('a starting tab takes the token another tab hands over instead of refreshing', async () => {
    const { bff, a, b } = twoTabs();
    await startBoth(a, b);
    expect(bff.count('/refresh')).toBe(1);
    expect(await b.getAccessToken()).toBe('t1');
    expect(b.getSnapshot().session?.id).toBe('s1');
  });

  it('a refresh in one tab hands the new token to the other', async () => {
    const { bff, a, b } = twoTabs();
    await startBoth(a, b);
    const refreshed = vi.fn();
    b.on('refreshed', refreshed);
    expect(await a.refresh()).toBe('t2');
    await vi.waitFor(() => expect(refreshed).toHaveBeenCalledTimes(1));
    expect(await b.getAccessToken()).toBe('t2');
    expect(bff.count('/refresh')).toBe(2);
  });

  it('logout in one tab signs out the other at once', async () => {
    const { bff, a, b } = twoTabs();
    await startBoth(a, b);
    const signedOut = vi.fn();
    b.on('signed_out', signedOut);
    await a.logout();
    await vi.waitFor(() => expect(b.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'logout' }));
    expect(signedOut).toHaveBeenCalledWith({ reason: 'logout' });
    expect(await b.getAccessToken()).toBeNull();
    expect(bff.count('/logout')).toBe(1);
    expect(bff.count('/refresh')).toBe(1);
  });

  it('logout-all in one tab signs out the other', async () => {
    const { a, b } = twoTabs();
    await startBoth(a, b);
    await a.logoutAll();
    await vi.waitFor(() => expect(b.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'logout_all' }));
  });

  it('login in one tab signs in the other', async () => {
    const { bff, a, b } = twoTabs({ bff: createFakeBff({ signedIn: false }) });
    a.start();
    b.start();
    await vi.waitFor(() => expect(b.getSnapshot().status).toBe('unauthenticated'));
    await vi.waitFor(() => expect(a.getSnapshot().status).toBe('unauthenticated'));
    const signedIn = vi.fn();
    b.on('signed_in', signedIn);
    await a.login({ username: 'alice', password: 'wonderland' });
    await vi.waitFor(() => expect(b.getSnapshot()).toMatchObject({ status: 'authenticated', user: { name: 'alice' } }));
    expect(signedIn).toHaveBeenCalledTimes(1);
    expect(await b.getAccessToken()).toBe('t1');
    expect(bff.count('/refresh')).toBe(0); // no hint cookie: neither start-up asks, and nothing after the login
  });

  it('theft detected in one tab is reported in both', async () => {
    const { bff, a, b } = twoTabs();
    await startBoth(a, b);
    const theft = vi.fn();
    b.on('theft_detected', theft);
    bff.once('/refresh', () => json(401, { error: 'reuse_detected', message: 'reuse' }));
    await a.refresh();
    await vi.waitFor(() => expect(theft).toHaveBeenCalledTimes(1));
    expect(b.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'reuse_detected' });
  });

  it('with Web Locks, two tabs refreshing at once make one request', async () => {
    const { bff, a, b, locks, channelName } = twoTabs({ locks: true });
    await startBoth(a, b);
    const held = deferred<Response>();
    bff.once('/refresh', () => held.promise);
    const fromA = a.refresh();
    const fromB = b.refresh();
    // The signal that B waits for the lock (and so has sent nothing): it is queued behind A.
    await vi.waitFor(() => expect(locks!.waiting(`${channelName}:refresh`)).toBe(1));
    expect(bff.count('/refresh')).toBe(2); // start-up + A's refresh; B waits for the lock
    held.resolve(
      json(200, {
        accessToken: 'shared',
        tokenType: 'Bearer',
        expiresAt: Date.now() + 300_000,
        user: bff.state.user,
        session: { id: 's1', deviceName: 'd', createdAt: 1 },
      }),
    );
    expect(await fromA).toBe('shared');
    expect(await fromB).toBe('shared');
    expect(bff.count('/refresh')).toBe(2);
  });

  it('with Web Locks, a tab whose lock holder failed still refreshes itself', async () => {
    const { bff, a, b } = twoTabs({ locks: true });
    await startBoth(a, b);
    bff.once('/refresh', () => Promise.reject(new TypeError('Failed to fetch')));
    const fromA = a.refresh();
    const fromB = b.refresh();
    await expect(fromA).rejects.toMatchObject({ code: 'network_error' });
    expect(await fromB).toBe('t2');
    expect(bff.count('/refresh')).toBe(3);
  });

  it('with Web Locks, a starting tab never refreshes again right after another tab did, however its steps interleave', async () => {
    // The race seen under CPU load: tab D learns how many tabs hold a token (none yet: A is still refreshing), A then
    // finishes, broadcasts and releases the lock, and D finds the lock free before A's broadcast reaches it.
    // Here the browser's answer to D's holder count is delayed until A is done: the worst case for D.
    const locks = createFakeLocks();
    Object.defineProperty(navigator, 'locks', { value: locks, configurable: true });
    const gate = deferred<void>();
    const { query, request } = locks;
    let gated = false;
    let refreshLockRequests = 0;
    locks.query = () => {
      const snapshot = query(); // taken now, delivered when the gate opens
      if (!gated) return snapshot;
      gated = false;
      return gate.promise.then(() => snapshot);
    };
    locks.request = ((name: string, ...rest: [never, never?]) => {
      if (name.endsWith(':refresh')) refreshLockRequests++;
      return request(name, ...rest);
    }) as typeof request;
    const bff = createFakeBff();
    const channelName = `race-${process.pid}-${++channel}`;
    const a = makeClient(bff, { channelName, handoverWaitMs: 150 }, clients);
    const d = makeClient(bff, { channelName, handoverWaitMs: 150 }, clients);
    const held = deferred<Response>();
    bff.once('/refresh', () => held.promise);
    a.start();
    await vi.waitFor(() => expect(bff.count('/refresh')).toBe(1)); // A holds the lock, its refresh in flight
    gated = true;
    d.start();
    // D is under way: it has asked for the holder count, or is queued for the lock.
    await vi.waitFor(() => expect(!gated || refreshLockRequests >= 2).toBe(true));
    const aDone = a.refresh(); // A's flight
    held.resolve(
      json(200, {
        accessToken: 'fromA',
        tokenType: 'Bearer',
        expiresAt: Date.now() + 300_000,
        user: bff.state.user,
        session: { id: 's1', deviceName: 'd', createdAt: 1 },
      }),
    );
    expect(await aDone).toBe('fromA'); // A has broadcast its token and released the lock
    gate.resolve(); // D goes on at once, before A's broadcast is delivered
    await vi.waitFor(() => expect(d.getSnapshot().status).toBe('authenticated'));
    expect(await d.getAccessToken()).toBe('fromA');
    expect(bff.count('/refresh')).toBe(1);
  });

  it("ignores a proxy-mode page's messages on the same channel ('in'), and still hears a sign-out", async () => {
    const { a, b, channelName } = twoTabs();
    await startBoth(a, b);
    const proxyPage = new BroadcastChannel(channelName);
    proxyPage.postMessage({ type: 'in', view: { user: { id: 'u-bob', name: 'bob' }, session: { id: 's9', deviceName: 'd', createdAt: 1 } } });
    // Delivered in order: had 'in' signed the tab out, this 'out' would change nothing.
    proxyPage.postMessage({ type: 'out', reason: 'logout' });
    await vi.waitFor(() => expect(b.getSnapshot().status).toBe('unauthenticated'));
    expect(b.getSnapshot().signOutReason).toBe('logout');
    proxyPage.close();
  });

  it('drops tab messages that are not one of the known shapes (ASVS 3.5.5): none signs the tab out or hands it a token', async () => {
    const { a, b, channelName } = twoTabs();
    await startBoth(a, b);
    const token = await b.getAccessToken();
    const seen: string[] = [];
    b.subscribe(() => seen.push(`${b.getSnapshot().status}:${b.getSnapshot().user?.name}`));
    const stranger = new BroadcastChannel(channelName);
    const session = { id: 's9', deviceName: 'd', createdAt: 1 };
    for (const message of [
      null,
      'out',
      { type: 'bogus', reason: 'logout' },
      { type: 'out' },
      { type: 'out', reason: 42 },
      { type: 'active', at: '9999999999999' },
      { type: 'token', view: { accessToken: 'forged', user: { id: 'u-bob', name: 'bob' }, session } },
      { type: 'token', view: { accessToken: 7, user: { id: 'u-bob', name: 'bob' }, session, expiresAt: Date.now() + 1e6, refreshAt: Date.now() + 1e6 } },
    ])
      stranger.postMessage(message);
    // Delivered in order: had any of them been taken, this 'out' would change nothing.
    stranger.postMessage({ type: 'out', reason: 'logout' });
    await vi.waitFor(() => expect(b.getSnapshot().status).toBe('unauthenticated'));
    expect(b.getSnapshot().signOutReason).toBe('logout');
    // One change only, the last message's: no forged session came in between.
    expect(seen).toEqual(['unauthenticated:undefined']);
    expect(token).toBe('t1');
    stranger.close();
  });

  it('without BroadcastChannel, each tab works alone', async () => {
    vi.stubGlobal('BroadcastChannel', undefined);
    try {
      const { bff, a, b } = twoTabs();
      a.start();
      b.start();
      await vi.waitFor(() => expect(b.getSnapshot().status).toBe('authenticated'));
      await vi.waitFor(() => expect(a.getSnapshot().status).toBe('authenticated'));
      expect(bff.count('/refresh')).toBe(2);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
