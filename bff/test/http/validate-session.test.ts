import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import type { ValidateSession } from '../../src/session/validate.js';
import { call, login, me, refresh, startTestBff, type TestBff } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

const SECOND = 1000;

let t: TestBff;
afterEach(async () => {
  await t.close();
});

/** An account table the application changes while sessions live. */
function accounts() {
  const state = { disabled: new Set<string>(), roles: new Map<string, string[]>(), calls: 0, fail: false };
  const hook: ValidateSession = async (user) => {
    state.calls++;
    if (state.fail) throw new Error('directory down: password=hunter2');
    if (state.disabled.has(user.id)) return false;
    const roles = state.roles.get(user.id);
    return roles === undefined ? true : { scope: roles };
  };
  return { state, hook };
}

async function start(hook: ValidateSession, validateCacheSeconds = 60) {
  const clock = new TestClock();
  t = await startTestBff({ validateSession: hook, session: { validateCacheSeconds }, clock }, new MemoryStore({ clock }));
  return clock;
}

describe('validateSession (sessions follow the account)', () => {
  it('a disabled account stops refreshing within validateCacheSeconds: 401 session_revoked, its tokens revoked, counted and logged', async () => {
    const { state, hook } = accounts();
    const clock = await start(hook, 60);
    const device = await login(t.app);
    expect((await refresh(t.app, device)).status).toBe(200);
    state.disabled.add('user-alice');
    // Within the bound the cached verdict may still stand…
    clock.advance(30 * SECOND);
    expect((await refresh(t.app, device)).status).toBe(200);
    // …but not past it.
    clock.advance(31 * SECOND);
    const res = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'session_revoked', message: expect.any(String) });
    expect((await me(t.app, device.token)).status).toBe(401);
    const { events } = await t.store.readRevocations(null, { blockMs: 0, count: 1000 });
    expect(events).toContainEqual(expect.objectContaining({ kind: 'sid', id: device.sid, reason: 'validate_refused' }));
    expect(await t.bff.metrics.registry.getSingleMetricAsString('latchkey_logouts_total')).toContain('latchkey_logouts_total{reason="validate_refused"} 1');
    expect(t.logLines.some((line) => line.includes('"event":"session_validation_refused"') && line.includes(device.sid))).toBe(true);
    expect((await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie })).status).toBe(401);
  });

  it('asks at most once per session per validateCacheSeconds', async () => {
    const { state, hook } = accounts();
    const clock = await start(hook, 60);
    const device = await login(t.app);
    for (let i = 0; i < 5; i++) expect((await refresh(t.app, device)).status).toBe(200);
    expect(state.calls).toBe(1);
    clock.advance(61 * SECOND);
    expect((await refresh(t.app, device)).status).toBe(200);
    expect(state.calls).toBe(2);
  });

  it('a changed role changes the next token’s scope (the tenant and other claims stay)', async () => {
    const { state, hook } = accounts();
    const clock = await start(hook, 10);
    const device = await login(t.app);
    expect(decodeJwt(device.token).scope).toBeUndefined();
    state.roles.set('user-alice', ['read:feed', 'admin']);
    clock.advance(11 * SECOND);
    expect((await refresh(t.app, device)).status).toBe(200);
    expect(decodeJwt(device.token).scope).toBe('read:feed admin');
    state.roles.set('user-alice', ['read:feed']);
    clock.advance(11 * SECOND);
    expect((await refresh(t.app, device)).status).toBe(200);
    expect(decodeJwt(device.token).scope).toBe('read:feed');
  });

  it('claims beyond the size cap, or registered claims, are the application’s bug: 503, never a sign-out', async () => {
    await start(async () => ({ claims: { blob: 'x'.repeat(5000) } }));
    const device = await login(t.app);
    const res = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie });
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
  });

  it('a hook that throws is 503 temporarily_unavailable, never a sign-out, logged without its message; the session goes on', async () => {
    const { state, hook } = accounts();
    await start(hook, 0);
    const device = await login(t.app);
    state.fail = true;
    const res = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'temporarily_unavailable', message: expect.any(String) });
    expect(res.headers['retry-after']).toBeDefined();
    // The rotated cookie went out with the 503: the retry presents the current credential, no theft.
    const rotated = /__Host-latchkey=[^;]+/.exec(String(res.headers['set-cookie']))?.[0];
    expect(rotated).toBeDefined();
    device.cookie = rotated!;
    const failed = t.logLines.filter((line) => line.includes('"event":"validate_session_failed"'));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toContain(device.sid);
    expect(t.logLines.join('\n')).not.toContain('hunter2');
    state.fail = false;
    expect((await refresh(t.app, device)).status).toBe(200);
    expect(await t.bff.metrics.registry.getSingleMetricAsString('latchkey_theft_detections_total')).toMatch(/ 0$/);
  });

  it('rejects a bad option value at startup', async () => {
    await expect(startTestBff({ session: { validateCacheSeconds: -1 } })).rejects.toThrow(/session\.validateCacheSeconds/);
    // t must exist for afterEach.
    t = await startTestBff();
  });
});
