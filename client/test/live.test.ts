import type { SessionClient } from '@latchkey/client';
import { attachLive, type Live } from '@latchkey/client/live';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakeBff, makeClient } from './support/fake-bff.js';
import { FakeEventSource } from './support/fake-event-source.js';
import { createFakeLocks } from './support/fake-locks.js';

// Tabs of one browser: session clients and live handles on one channel name, one fake LockManager, one fake BFF
// (one cookie jar), Node's real BroadcastChannel (asynchronous delivery, hence waitFor). What must NOT happen is
// checked on fake timers, never after a real-time sleep (which a busy machine can stretch).

const clients: SessionClient[] = [];
const lives: Live[] = [];
let channel = 0;
let locks: ReturnType<typeof createFakeLocks>;

beforeEach(() => {
  FakeEventSource.opened = [];
  locks = createFakeLocks();
  Object.defineProperty(navigator, 'locks', { value: locks, configurable: true });
  vi.stubGlobal('EventSource', FakeEventSource);
});

afterEach(() => {
  vi.useRealTimers();
  lives.splice(0).forEach((l) => l.close());
  clients.splice(0).forEach((c) => c.destroy());
  delete (navigator as { locks?: unknown }).locks;
  vi.unstubAllGlobals();
});

function tabsOf(count: number, bff = createFakeBff()) {
  const channelName = `live-${process.pid}-${++channel}`;
  const tabs = Array.from({ length: count }, () => {
    const session = makeClient(bff, { channelName, handoverWaitMs: 50 }, clients);
    const live = attachLive(session);
    lives.push(live);
    const devicesChanged = vi.fn();
    live.onDevicesChanged(devicesChanged);
    return { session, live, devicesChanged };
  });
  return { bff, tabs, lockName: `${channelName}:live` };
}

async function signedIn(tabs: Array<{ session: SessionClient }>) {
  for (const { session } of tabs) {
    session.start();
    await vi.waitFor(() => expect(session.getSnapshot().status).toBe('authenticated'));
  }
}

describe('@latchkey/client/live', () => {
  it('opens one stream per browser, from the tab holding the lock, with credentials, once signed in', async () => {
    const { tabs, lockName } = tabsOf(3);
    expect(FakeEventSource.opened).toHaveLength(0);
    await signedIn(tabs);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    expect(FakeEventSource.opened[0]!.url).toBe('/auth/events');
    expect(FakeEventSource.opened[0]!.init).toEqual({ withCredentials: true });
    expect(locks.isHeld(lockName)).toBe(true);
    await vi.waitFor(() => expect(locks.waiting(lockName)).toBe(2));
    expect(FakeEventSource.opened).toHaveLength(1);
  });

  it('relays devices_changed to every tab, and announces a (re)connect as a change', async () => {
    const { tabs } = tabsOf(2);
    await signedIn(tabs);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    const stream = FakeEventSource.opened[0]!;
    stream.open();
    await vi.waitFor(() => tabs.forEach((t) => expect(t.devicesChanged).toHaveBeenCalledTimes(1)));
    stream.emit('devices_changed', { sid: 's9', change: 'started' });
    await vi.waitFor(() => tabs.forEach((t) => expect(t.devicesChanged).toHaveBeenCalledTimes(2)));
  });

  it('session_ended signs every tab out with the reason, without a call to the BFF, and closes the stream', async () => {
    const { bff, tabs, lockName } = tabsOf(3);
    await signedIn(tabs);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    const calls = bff.calls.length;
    FakeEventSource.opened[0]!.emit('session_ended', { sid: 's1', reason: 'logout_all' });
    await vi.waitFor(() => tabs.forEach((t) => expect(t.session.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'logout_all' })));
    expect(bff.calls.length).toBe(calls);
    expect(FakeEventSource.live()).toHaveLength(0);
    await vi.waitFor(() => expect(locks.isHeld(lockName)).toBe(false));
    expect(locks.waiting(lockName)).toBe(0);
  });

  it('ignores session_ended for another session (a stale stream of an earlier sign-in)', async () => {
    const { tabs } = tabsOf(1);
    await signedIn(tabs);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    FakeEventSource.opened[0]!.emit('session_ended', { sid: 'someone-else', reason: 'logout' });
    expect(tabs[0]!.session.getSnapshot().status).toBe('authenticated');
  });

  it('when the lock-holding tab closes, another tab takes the stream over and still gets the push', async () => {
    const { tabs } = tabsOf(2);
    await signedIn(tabs);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    const [first] = FakeEventSource.opened;
    const holder = tabs.findIndex((t) => t.live === lives[0]);
    // The tab closes: its live handle lets go of the lock and its stream (the browser does both for a closed tab).
    tabs[holder]!.live.close();
    tabs[holder]!.session.destroy();
    expect(first!.readyState).toBe(2);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(2));
    const other = tabs[1 - holder]!;
    FakeEventSource.opened[1]!.emit('session_ended', { sid: 's1', reason: 'session_revoked' });
    await vi.waitFor(() => expect(other.session.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'session_revoked' }));
  });

  it('a refused stream (401/429/503) asks the BFF for the definitive answer, then reconnects with backoff', async () => {
    const bff = createFakeBff();
    const { tabs } = tabsOf(1, bff);
    await signedIn(tabs);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    const refreshes = bff.count('/refresh');
    FakeEventSource.opened[0]!.refuse();
    await vi.waitFor(() => expect(bff.count('/refresh')).toBe(refreshes + 1));
    // Still signed in (the refresh succeeded): a new stream follows.
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(2), { timeout: 3000 });
    expect(tabs[0]!.session.getSnapshot().status).toBe('authenticated');
  });

  it('a refused stream of a session that ended signs out through the refresh, and stops reconnecting', async () => {
    vi.useFakeTimers();
    const bff = createFakeBff();
    const { tabs } = tabsOf(1, bff);
    await signedIn(tabs);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    bff.state.signedIn = false;
    FakeEventSource.opened[0]!.refuse();
    await vi.waitFor(() => expect(tabs[0]!.session.getSnapshot().status).toBe('unauthenticated'));
    // Past the longest reconnect backoff (backoffMaxMs, 60 s): no stream came back.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.live()).toHaveLength(0);
  });

  it('a dropped connection is left to the browser’s own reconnect (no refresh, no second stream)', async () => {
    vi.useFakeTimers();
    const bff = createFakeBff();
    const { tabs } = tabsOf(1, bff);
    await signedIn(tabs);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    const refreshes = bff.count('/refresh');
    FakeEventSource.opened[0]!.drop();
    // Past the longest reconnect backoff (60 s), well before the proactive refresh (the token lives 5 minutes).
    await vi.advanceTimersByTimeAsync(60_000);
    expect(bff.count('/refresh')).toBe(refreshes);
    expect(FakeEventSource.opened).toHaveLength(1);
    expect(tabs[0]!.session.getSnapshot().status).toBe('authenticated');
  });

  it('signing out closes the stream and lets go of the lock; signing in again reopens it', async () => {
    const { bff, tabs, lockName } = tabsOf(1);
    await signedIn(tabs);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    await tabs[0]!.session.logout();
    expect(FakeEventSource.live()).toHaveLength(0);
    await vi.waitFor(() => expect(locks.isHeld(lockName)).toBe(false));
    bff.state.sessionId = 's2';
    await tabs[0]!.session.login({ username: 'alice', password: 'wonderland' });
    await vi.waitFor(() => expect(FakeEventSource.live()).toHaveLength(1));
  });

  it('a new session without a sign-out in between (another login) reopens the stream for it', async () => {
    const { bff, tabs } = tabsOf(1);
    await signedIn(tabs);
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(1));
    bff.state.sessionId = 's2';
    await tabs[0]!.session.login({ username: 'alice', password: 'wonderland' });
    await vi.waitFor(() => expect(FakeEventSource.opened).toHaveLength(2));
    expect(FakeEventSource.opened[0]!.readyState).toBe(2);
    FakeEventSource.opened[1]!.emit('session_ended', { sid: 's2', reason: 'session_revoked' });
    expect(tabs[0]!.session.getSnapshot()).toMatchObject({ status: 'unauthenticated', signOutReason: 'session_revoked' });
  });

  describe('falls back to today’s behaviour', () => {
    it.each([
      ['EventSource', () => vi.stubGlobal('EventSource', undefined)],
      ['Web Locks', () => void delete (navigator as { locks?: unknown }).locks],
      ['BroadcastChannel', () => vi.stubGlobal('BroadcastChannel', undefined)],
    ])('without %s: no stream, the session works as before', async (_name, remove) => {
      remove();
      const bff = createFakeBff();
      const session = makeClient(bff, {}, clients);
      const live = attachLive(session);
      lives.push(live);
      const listener = vi.fn();
      const unsubscribe = live.onDevicesChanged(listener);
      session.start();
      await vi.waitFor(() => expect(session.getSnapshot().status).toBe('authenticated'));
      expect(FakeEventSource.opened).toHaveLength(0);
      expect(listener).not.toHaveBeenCalled();
      expect(typeof unsubscribe).toBe('function');
      await session.logout();
      expect(session.getSnapshot().signOutReason).toBe('logout');
    });
  });
});
