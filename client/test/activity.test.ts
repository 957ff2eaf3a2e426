import axios, { type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import type { EnvironmentEvent, SessionClient, SessionEnvironment } from '@latchkey/client';
import { attachAxios } from '@latchkey/client/axios';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { browserEnvironment } from '../src/core/environment.js';
import { createFakeBff, makeClient } from './support/fake-bff.js';

// Activity for the BFF's idle timeout: real use of the page (input, the application's API calls) in any tab of the
// browser, sent as `{ idleSeconds }` with every POST /refresh. The client's own timers and refreshes never count.
// Time is fake (Date, and timers where one tab is enough); tab messages are awaited, never slept for.

const clients: SessionClient[] = [];
let channel = 0;

afterEach(() => {
  clients.splice(0).forEach((c) => c.destroy());
  vi.unstubAllGlobals();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** An environment the test drives: `emit('input')` is a key press in that tab. */
function fakeEnvironment() {
  const state = { signal: undefined as ((event: EnvironmentEvent) => void) | undefined, stops: 0 };
  const environment: SessionEnvironment = (signal) => {
    state.signal = signal;
    return () => {
      state.signal = undefined;
      state.stops++;
    };
  };
  return { environment, state, emit: (event: EnvironmentEvent) => state.signal!(event) };
}

const idleReports = (bff: ReturnType<typeof createFakeBff>) =>
  bff.calls.filter((c) => c.path == '/refresh').map((c) => (c.body as { idleSeconds?: number }).idleSeconds);

describe('activity: idleSeconds on POST /refresh', () => {
  it('an idle tab whose timer refreshes reports growing idleSeconds; input and API calls reset it', async () => {
    vi.stubGlobal('BroadcastChannel', undefined);
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0); // no jitter: a refresh every 240 s (300 s tokens, 60 s margin)
    const bff = createFakeBff({ ttlMs: 300_000 });
    const tab = fakeEnvironment();
    const client = makeClient(bff, { refreshMarginMs: 60_000, environment: tab.environment }, clients);
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(480_000);
    // The client's own refreshes, on its timer: the page load was the last activity.
    expect(idleReports(bff)).toEqual([0, 240, 480]);
    expect(bff.calls[0]!.headers).toMatchObject({ 'x-csrf': '1', 'content-type': 'application/json' });

    await vi.advanceTimersByTimeAsync(100_000);
    tab.emit('input'); // at 580 s
    await vi.advanceTimersByTimeAsync(140_000); // refresh at 720 s
    expect(idleReports(bff).at(-1)).toBe(140);

    // An API call through the axios adapter (its getAccessToken) is activity too.
    const api = axios.create({
      adapter: async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => ({ data: {}, status: 200, statusText: 'OK', headers: {}, config }),
    });
    attachAxios(api, client, { sameOrigin: true });
    await vi.advanceTimersByTimeAsync(200_000);
    await api.get('/api/me'); // at 920 s
    await vi.advanceTimersByTimeAsync(40_000); // refresh at 960 s
    expect(idleReports(bff).at(-1)).toBe(40);
    // The refresh an application asks for itself is not activity: only getAccessToken and input are.
    await vi.advanceTimersByTimeAsync(30_000);
    await client.refresh();
    expect(idleReports(bff).at(-1)).toBe(70);
  });

  it('input in tab A resets the idle time tab B reports; a refresh in A does not', async () => {
    vi.useFakeTimers({ toFake: ['Date'] }); // the tabs' messages and waits run in real time; only the clock is fake
    const t0 = Date.now();
    const bff = createFakeBff({ ttlMs: 3_600_000 });
    const channelName = `activity-${process.pid}-${++channel}`;
    const tabA = fakeEnvironment();
    const a = makeClient(bff, { channelName, environment: tabA.environment }, clients);
    const b = makeClient(bff, { channelName, environment: fakeEnvironment().environment }, clients);
    a.start();
    await vi.waitFor(() => expect(a.getSnapshot().status).toBe('authenticated'));
    b.start();
    await vi.waitFor(() => expect(b.getSnapshot().status).toBe('authenticated'));

    vi.setSystemTime(t0 + 600_000);
    // A refreshes (its own doing, not the user's) and hands the token to B: B still reports 10 idle minutes.
    const refreshedInB = new Promise((resolve) => b.on('refreshed', resolve));
    await a.refresh();
    await refreshedInB;
    await b.refresh();
    expect(idleReports(bff).at(-1)).toBe(600);

    tabA.emit('input');
    // B learns of it by message: each attempt is one refresh of B's, until it reports the input.
    await vi.waitFor(async () => {
      await b.refresh();
      expect(idleReports(bff).at(-1)).toBe(0);
    });
  });

  it('input is recorded at most once a second (one tab message), and the stopped client stops listening', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const posted = vi.spyOn(BroadcastChannel.prototype, 'postMessage');
    const bff = createFakeBff();
    const tab = fakeEnvironment();
    const client = makeClient(bff, { environment: tab.environment }, clients);
    client.start();
    await vi.waitFor(() => expect(client.getSnapshot().status).toBe('authenticated'));
    const activity = () => posted.mock.calls.filter(([message]) => (message as { type: string }).type == 'active').length;
    vi.setSystemTime(Date.now() + 5_000);
    tab.emit('input');
    tab.emit('input');
    vi.setSystemTime(Date.now() + 999);
    tab.emit('input');
    expect(activity()).toBe(1);
    vi.setSystemTime(Date.now() + 1);
    tab.emit('input');
    expect(activity()).toBe(2);
    client.destroy();
    expect(tab.state).toMatchObject({ signal: undefined, stops: 1 });
  });

  it('online and visible from the environment retry an unreachable BFF; input does not', async () => {
    vi.stubGlobal('BroadcastChannel', undefined);
    vi.useFakeTimers();
    const bff = createFakeBff();
    const tab = fakeEnvironment();
    const client = makeClient(bff, { environment: tab.environment }, clients);
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    bff.once('/refresh', () => Promise.reject(new TypeError('Failed to fetch')));
    await client.refresh().catch(() => {});
    expect(client.getSnapshot().unreachable).toBe(true);
    tab.emit('input');
    await vi.advanceTimersByTimeAsync(0);
    expect(bff.count('/refresh')).toBe(2);
    tab.emit('visible');
    await vi.advanceTimersByTimeAsync(0);
    expect(bff.count('/refresh')).toBe(3);
    expect(client.getSnapshot().unreachable).toBe(false);
    // Not the browser's: a window event reaches nobody.
    bff.once('/refresh', () => Promise.reject(new TypeError('Failed to fetch')));
    await client.refresh().catch(() => {});
    window.dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(0);
    expect(bff.count('/refresh')).toBe(4);
    tab.emit('online');
    await vi.advanceTimersByTimeAsync(0);
    expect(bff.count('/refresh')).toBe(5);
  });
});

describe('browserEnvironment', () => {
  it('signals input (pointer, key, wheel, touch, even when the page stops propagation), online, and visible only when shown', () => {
    const signal = vi.fn();
    const stop = browserEnvironment(signal);
    const button = document.body.appendChild(document.createElement('button'));
    button.addEventListener('pointerdown', (event) => event.stopPropagation());
    button.dispatchEvent(new Event('pointerdown', { bubbles: true }));
    for (const type of ['keydown', 'wheel', 'touchstart']) document.body.dispatchEvent(new Event(type, { bubbles: true }));
    window.dispatchEvent(new Event('online'));
    const visibility = vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden');
    document.dispatchEvent(new Event('visibilitychange'));
    visibility.mockReturnValue('visible');
    document.dispatchEvent(new Event('visibilitychange'));
    expect(signal.mock.calls.map(([event]) => event as string)).toEqual(['input', 'input', 'input', 'input', 'online', 'visible']);
    stop();
    window.dispatchEvent(new Event('online'));
    document.body.dispatchEvent(new Event('keydown', { bubbles: true }));
    expect(signal).toHaveBeenCalledTimes(6);
    button.remove();
  });
});
