import { describe, expect, it, vi } from 'vitest';
import { createFakeBff, deferred, json, makeClient, useSingleTabClients } from './support/fake-bff.js';

// Single-tab behaviour: no other tab to ask, so start() refreshes at once.
const clients = useSingleTabClients();

async function signedInClient(ttlMs = 300_000) {
  const bff = createFakeBff({ ttlMs });
  const client = makeClient(bff, { refreshMarginMs: 60_000 }, clients);
  await client.login({ username: 'alice', password: 'wonderland' });
  return { bff, client };
}

describe('single flight', () => {
  it('N concurrent getAccessToken calls on a stale token cause one refresh', async () => {
    vi.useFakeTimers();
    const { bff, client } = await signedInClient();
    vi.setSystemTime(Date.now() + 250_000); // inside the refresh margin

    const held = deferred<Response>();
    bff.once('/refresh', () => held.promise);
    const callers = Array.from({ length: 25 }, () => client.getAccessToken());
    await vi.advanceTimersByTimeAsync(0);
    expect(bff.count('/refresh')).toBe(1);

    held.resolve(
      json(200, {
        accessToken: 'fresh',
        tokenType: 'Bearer',
        expiresAt: Date.now() + 300_000,
        user: bff.state.user,
        session: { id: 's1', deviceName: 'd', createdAt: 1 },
      }),
    );
    expect(new Set(await Promise.all(callers))).toEqual(new Set(['fresh']));
    expect(bff.count('/refresh')).toBe(1);
  });

  it('concurrent refresh() calls share one request', async () => {
    const { bff, client } = await signedInClient();
    const results = await Promise.all([client.refresh(), client.refresh(), client.refresh()]);
    expect(results).toEqual(['t2', 't2', 't2']);
    expect(bff.count('/refresh')).toBe(1);
  });

  it('a fresh token is served from memory without a request', async () => {
    const { bff, client } = await signedInClient();
    await Promise.all(Array.from({ length: 10 }, () => client.getAccessToken()));
    expect(bff.count('/refresh')).toBe(0);
  });

  it('refresh(rejected) skips the network when the rejected token was already replaced', async () => {
    const { bff, client } = await signedInClient();
    await client.refresh(); // t1 -> t2
    expect(await client.refresh('t1')).toBe('t2');
    expect(bff.count('/refresh')).toBe(1);
    // The current token being rejected does force a refresh.
    expect(await client.refresh('t2')).toBe('t3');
    expect(bff.count('/refresh')).toBe(2);
  });

  it('the initial restore is shared with early getAccessToken callers', async () => {
    const bff = createFakeBff();
    const client = makeClient(bff, {}, clients);
    client.start();
    const tokens = await Promise.all([client.getAccessToken(), client.getAccessToken()]);
    expect(tokens).toEqual(['t1', 't1']);
    expect(bff.count('/refresh')).toBe(1);
  });

  it('a refresh answer that arrives after logout is discarded', async () => {
    const { bff, client } = await signedInClient();
    const held = deferred<Response>();
    bff.once('/refresh', () => held.promise);
    const pending = client.refresh();
    // No Web Locks here, so logout does not wait for the refresh.
    await client.logout();
    held.resolve(
      json(200, {
        accessToken: 'late',
        tokenType: 'Bearer',
        expiresAt: Date.now() + 300_000,
        user: bff.state.user,
        session: { id: 's1', deviceName: 'd', createdAt: 1 },
      }),
    );
    expect(await pending).toBeNull();
    expect(client.getSnapshot().status).toBe('unauthenticated');
    expect(await client.getAccessToken()).toBeNull();
  });
});
