import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { systemClock, type BffOptions } from '../../src/index.js';
import { resolveBffOptions } from '../../src/options.js';
import { MemoryStore } from '../../src/store/memory.js';
import { ISSUER, login, me, SECRET, startTestBff } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

const base = () => ({ store: new MemoryStore({ warnInProduction: false }), secrets: [SECRET], tokens: { issuer: ISSUER }, authenticate: async () => null });

describe('the clock option', () => {
  it('defaults to the system clock, and refuses anything without now()', () => {
    expect(resolveBffOptions(base()).clock).toBe(systemClock);
    expect(() => resolveBffOptions({ ...base(), clock: Date.now } as unknown as BffOptions)).toThrow(/clock: clock must have a now\(\) method/);
    expect(() => new MemoryStore({ clock: {} as never })).toThrow(/clock must have a now\(\) method/);
  });

  it('is the one time the BFF, its guard and the store go by', async () => {
    // A day ahead of the real time: a token stamped by this clock is "issued in the future" for any other clock.
    const clock = new TestClock(Date.now() + 24 * 3600_000);
    const t = await startTestBff({ clock }, new MemoryStore({ warnInProduction: false, clock }));
    try {
      const device = await login(t.app);
      expect(decodeJwt(device.token).iat).toBe(Math.floor(clock.now() / 1000));
      expect((await me(t.app, device.token)).status).toBe(200);
      const [session] = await t.store.listUserSessions('user-alice', clock.now());
      expect(session!.createdAt).toBe(clock.now());
      // Past the token's lifetime on this clock: the guard says so without anyone waiting.
      clock.advance(301_000 + 5_000);
      expect((await me(t.app, device.token)).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('TestClock never runs backwards', () => {
    const clock = new TestClock(1_000);
    clock.advance(500);
    clock.set(2_000);
    expect(clock.now()).toBe(2_000);
    expect(() => clock.advance(-1)).toThrow(RangeError);
    expect(() => clock.set(1_999)).toThrow(RangeError);
    const running = TestClock.running();
    running.advance(60_000);
    expect(running.now()).toBeGreaterThanOrEqual(Date.now() + 59_000);
  });
});
