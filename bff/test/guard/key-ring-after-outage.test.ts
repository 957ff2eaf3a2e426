import { afterEach, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import type { SessionStore } from '../../src/store/types.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { login, me, startTestBff, type TestBff } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

const started: TestBff[] = [];
afterEach(async () => {
  for (const t of started.splice(0).reverse()) await t.close();
});

/**
 * The shared store as instance B sees it: its revocation feed can be cut, and it never shows key-ring events, as when
 * the entry was trimmed from the log or expired while B was cut off.
 */
function windowOnto(shared: MemoryStore): { store: SessionStore; cut(down: boolean): void } {
  let down = false;
  const store = new Proxy(shared, {
    get(target, property) {
      if (property === 'readRevocations') {
        return async (...args: Parameters<SessionStore['readRevocations']>) => {
          if (down) throw new StoreUnavailableError('feed cut');
          const batch = await target.readRevocations(...args);
          return { ...batch, events: batch.events.filter((event) => event.kind !== 'keyring') };
        };
      }
      if (property === 'close') return async () => {};
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, cut: (value) => void (down = value) };
}

it('a guard whose feed was down during an emergency rotation reloads the key ring when the feed resumes, though the key-ring event is gone', async () => {
  const shared = new MemoryStore({ warnInProduction: false });
  const a = await startTestBff({}, shared);
  started.push(a);
  const window = windowOnto(shared);
  const b = await startTestBff({}, window.store);
  started.push(b);
  const feedErrors = () => b.bff.metrics.registry.getSingleMetricAsString('latchkey_revocation_feed_errors_total');

  const device = await login(a.app);
  expect((await me(b.app, device.token)).status).toBe(200);

  window.cut(true);
  await expect.poll(feedErrors, { timeout: 5000, interval: 20 }).toMatch(/_total [1-9]/m);
  // The signing key is compromised: every token signed with it must stop working, on every instance.
  await a.bff.admin.emergencyRotateKeys();
  expect((await me(a.app, device.token)).status).toBe(401);

  window.cut(false);
  await expect.poll(async () => (await me(b.app, device.token)).status, { timeout: 10_000, interval: 50 }).toBe(401);
  // New tokens, signed with the new key, are accepted by B.
  const fresh = await login(a.app);
  expect((await me(b.app, fresh.token)).status).toBe(200);
});

it('a guard that missed a key-ring event without a failed read (a paused process) reloads the ring within a minute', async () => {
  const clock = new TestClock(Date.now());
  const shared = new MemoryStore({ warnInProduction: false, clock });
  const a = await startTestBff({ clock }, shared);
  started.push(a);
  const window = windowOnto(shared);
  const b = await startTestBff({ clock }, window.store);
  started.push(b);

  const device = await login(a.app);
  expect((await me(b.app, device.token)).status).toBe(200);
  await a.bff.admin.emergencyRotateKeys();
  expect((await me(a.app, device.token)).status).toBe(401);
  // B saw no key-ring event and no failed read: it trusts the old key until its next check of the ring's version.
  expect((await me(b.app, device.token)).status).toBe(200);

  clock.advance(61_000);
  await expect.poll(async () => (await me(b.app, device.token)).status, { timeout: 10_000, interval: 50 }).toBe(401);
});
