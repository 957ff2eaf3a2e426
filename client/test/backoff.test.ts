import type { SessionClient } from '@latchkey/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay } from '../src/core/backoff.js';
import { createFakeBff, errorResponse, makeClient } from './support/fake-bff.js';

const clients: SessionClient[] = [];
const networkDown = () => Promise.reject(new TypeError('Failed to fetch'));

beforeEach(() => {
  vi.stubGlobal('BroadcastChannel', undefined);
  vi.useFakeTimers();
  // Full jitter at its upper bound, so delays are min * 2^attempt exactly.
  vi.spyOn(Math, 'random').mockReturnValue(0.999999);
});

afterEach(() => {
  clients.splice(0).forEach((c) => c.destroy());
  vi.unstubAllGlobals();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function authenticated() {
  const bff = createFakeBff();
  const client = makeClient(bff, { backoffMinMs: 1_000, backoffMaxMs: 8_000 }, clients);
  client.start();
  await vi.advanceTimersByTimeAsync(0);
  expect(client.getSnapshot().status).toBe('authenticated');
  return { bff, client };
}

describe('backoffDelay', () => {
  it('is full jitter under an exponential cap', () => {
    vi.mocked(Math.random).mockReturnValue(0.5);
    expect(backoffDelay(0, 1000, 60_000)).toBe(500);
    expect(backoffDelay(3, 1000, 60_000)).toBe(4000);
    expect(backoffDelay(20, 1000, 60_000)).toBe(30_000);
    vi.mocked(Math.random).mockReturnValue(0);
    expect(backoffDelay(5, 1000, 60_000)).toBe(0);
  });
});

describe('an unreachable BFF', () => {
  it.each([
    ['network errors', networkDown],
    ['503 temporarily_unavailable', () => errorResponse(503, 'temporarily_unavailable')],
    ['500 without a JSON body', () => new Response('Bad gateway', { status: 502 })],
  ])('%s keep the user signed in, flag unreachable and retry with backoff', async (_, failure) => {
    const { bff, client } = await authenticated();
    const signedOut = vi.fn();
    client.on('signed_out', signedOut);
    for (let i = 0; i < 4; i++) bff.once('/refresh', failure);

    await expect(client.refresh()).rejects.toMatchObject({ name: 'SessionError' });
    expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', unreachable: true });
    expect(bff.count('/refresh')).toBe(2);

    // Retries after ~1 s, 2 s, 4 s (capped at 8 s), then succeeds.
    const expectedAt = [1_000, 2_000, 4_000, 8_000];
    for (const [i, delay] of expectedAt.entries()) {
      await vi.advanceTimersByTimeAsync(delay - 5);
      expect(bff.count('/refresh')).toBe(2 + i);
      await vi.advanceTimersByTimeAsync(5);
      expect(bff.count('/refresh')).toBe(3 + i);
    }
    expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', unreachable: false });
    expect(signedOut).not.toHaveBeenCalled();
  });

  it('resets the backoff after a success', async () => {
    const { bff, client } = await authenticated();
    bff.once('/refresh', networkDown);
    bff.once('/refresh', networkDown);
    await client.refresh().catch(() => {});
    await vi.advanceTimersByTimeAsync(1_000); // second failure
    await vi.advanceTimersByTimeAsync(2_000); // success
    expect(client.getSnapshot().unreachable).toBe(false);
    bff.once('/refresh', networkDown);
    await client.refresh().catch(() => {});
    await vi.advanceTimersByTimeAsync(1_000);
    expect(client.getSnapshot().unreachable).toBe(false);
  });

  it('retries at once when the browser comes back online', async () => {
    const { bff, client } = await authenticated();
    bff.once('/refresh', networkDown);
    await client.refresh().catch(() => {});
    expect(client.getSnapshot().unreachable).toBe(true);
    window.dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(0);
    expect(bff.count('/refresh')).toBe(3);
    expect(client.getSnapshot().unreachable).toBe(false);
  });

  it('retries at once when the tab becomes visible', async () => {
    const { bff, client } = await authenticated();
    bff.once('/refresh', networkDown);
    await client.refresh().catch(() => {});
    vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('visible');
    document.dispatchEvent(new Event('visibilitychange'));
    await vi.advanceTimersByTimeAsync(0);
    expect(bff.count('/refresh')).toBe(3);
    expect(client.getSnapshot().unreachable).toBe(false);
  });

  it('does not listen any more once destroyed', async () => {
    const { bff, client } = await authenticated();
    bff.once('/refresh', networkDown);
    await client.refresh().catch(() => {});
    client.destroy();
    window.dispatchEvent(new Event('online'));
    await vi.advanceTimersByTimeAsync(120_000);
    expect(bff.count('/refresh')).toBe(2);
  });

  it('getAccessToken still serves an unexpired token, then reports network_error', async () => {
    const bff = createFakeBff({ ttlMs: 300_000 });
    const client = makeClient(bff, { refreshMarginMs: 60_000 }, clients);
    await client.login({ username: 'alice', password: 'wonderland' });
    bff.once('/refresh', networkDown);
    bff.once('/refresh', networkDown);
    vi.setSystemTime(Date.now() + 250_000); // in the margin, not expired
    expect(await client.getAccessToken()).toBe('t1');
    vi.setSystemTime(Date.now() + 60_000); // expired
    await expect(client.getAccessToken()).rejects.toMatchObject({ code: 'network_error', status: 0 });
    expect(client.getSnapshot().status).toBe('authenticated');
  });

  it('at start-up stays loading with unreachable=true until the BFF answers', async () => {
    const bff = createFakeBff();
    bff.once('/refresh', networkDown);
    const client = makeClient(bff, { backoffMinMs: 1_000 }, clients);
    client.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(client.getSnapshot()).toMatchObject({ status: 'loading', unreachable: true });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(client.getSnapshot()).toMatchObject({ status: 'authenticated', unreachable: false });
  });

  it('the network error carries the original as cause', async () => {
    const { bff, client } = await authenticated();
    const original = new TypeError('Failed to fetch');
    bff.once('/refresh', () => Promise.reject(original));
    const error = await client.refresh().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'network_error', cause: original });
  });
});
