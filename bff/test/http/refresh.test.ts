import { decodeJwt } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { call, login, me, refresh, sessionCookie, startTestBff, type TestBff } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

let t: TestBff;
beforeEach(async () => {
  t = await startTestBff();
});
afterEach(() => t.close());

async function metric(name: string): Promise<string> {
  const text = await t.bff.metrics.registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

describe('POST /auth/refresh', () => {
  it('rotates the cookie and issues a new token for the same device session', async () => {
    const device = await login(t.app);
    const firstCookie = device.cookie;
    const res = await refresh(t.app, device);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(device.cookie).not.toBe(firstCookie);
    expect(res.body.session.id).toBe(device.sid);
    expect(decodeJwt(device.token).sid).toBe(device.sid);
    expect((await me(t.app, device.token)).status).toBe(200);
    // The rotated cookie keeps working, generation after generation.
    for (let i = 0; i < 5; i++) expect((await refresh(t.app, device)).status).toBe(200);
  });

  it('answers 401 no_session without a cookie, with a forged cookie, or with one signed by another secret', async () => {
    const device = await login(t.app);
    const value = device.cookie.split('=')[1]!;
    const tampered = `__Host-latchkey=${value.slice(0, -3)}${value.endsWith('AAA') ? 'BBB' : 'AAA'}`;
    for (const cookie of [undefined, '__Host-latchkey=garbage', tampered, `__Host-latchkey=${'x'.repeat(600)}`]) {
      const res = await call(t.app, 'post', '/auth/refresh', { cookie });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'no_session', message: 'There is no session.' });
    }
    // None of that harmed the real session.
    expect((await refresh(t.app, device)).status).toBe(200);
  });

  it('accepts cookies signed with an older secret after secret rotation', async () => {
    const device = await login(t.app);
    const rotated = await startTestBff(
      { secrets: ['a-brand-new-secret-0123456789-abcdefghijkl', 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz'] },
      t.store,
    );
    const res = await refresh(rotated.app, device);
    expect(res.status).toBe(200);
  });

  it('detects theft: a superseded cookie used after its successor revokes the device session for every holder', async () => {
    const victim = await login(t.app);
    const stolen = victim.cookie;
    expect((await refresh(t.app, victim)).status).toBe(200); // C0 -> C1
    expect((await refresh(t.app, victim)).status).toBe(200); // C1 -> C2: C1, the successor of C0, has been used

    const thief = await call(t.app, 'post', '/auth/refresh', { cookie: stolen });
    expect(thief.status).toBe(401);
    expect(thief.body).toEqual({ error: 'reuse_detected', message: 'The session was ended because its credential was used twice.' });

    // The legitimate holder is signed out too, and the session's access token stops working at once.
    const victimRefresh = await call(t.app, 'post', '/auth/refresh', { cookie: victim.cookie });
    expect(victimRefresh.status).toBe(401);
    expect(victimRefresh.body.error).toBe('reuse_detected');
    expect((await me(t.app, victim.token)).status).toBe(401);
    expect(await metric('latchkey_theft_detections_total')).toMatch(/ 1$/);
    expect(t.logLines.some((l) => l.includes('"event":"theft_detected"'))).toBe(true);
  });

  it('detects theft when the thief refreshes first and the victim comes back after the grace window', async () => {
    const clock = new TestClock();
    const fast = await startTestBff({ session: { rotationGraceSeconds: 1 }, clock }, new MemoryStore({ clock }));
    try {
      const victim = await login(fast.app);
      const thief = { ...victim };
      expect((await refresh(fast.app, thief)).status).toBe(200);
      clock.advance(1100);
      const res = await call(fast.app, 'post', '/auth/refresh', { cookie: victim.cookie });
      expect(res.body.error).toBe('reuse_detected');
      expect((await call(fast.app, 'post', '/auth/refresh', { cookie: thief.cookie })).body.error).toBe('reuse_detected');
      expect((await me(fast.app, thief.token)).status).toBe(401);
    } finally {
      await fast.close();
    }
  });

  it('does not raise a false alarm for 50 concurrent refreshes with one cookie: all succeed with the same successor', async () => {
    const device = await login(t.app);
    const results = await Promise.all(Array.from({ length: 50 }, () => call(t.app, 'post', '/auth/refresh', { cookie: device.cookie })));
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const cookies = new Set(results.map((r) => sessionCookie(r)));
    expect(cookies.size).toBe(1);
    // Whichever response the browser kept, the session goes on.
    device.cookie = [...cookies][0]!;
    expect((await refresh(t.app, device)).status).toBe(200);
    expect((await refresh(t.app, device)).status).toBe(200);
    expect(await metric('latchkey_theft_detections_total')).toMatch(/ 0$/);
    // Every token handed out is a working token of the same session.
    for (const r of results.slice(0, 5)) expect((await me(t.app, r.body.accessToken)).status).toBe(200);
  });

  it('does not raise a false alarm for a retry after a lost response', async () => {
    const device = await login(t.app);
    const lost = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie }); // the browser never saw it
    expect(lost.status).toBe(200);
    const retry = await refresh(t.app, device);
    expect(retry.status).toBe(200);
    expect(device.cookie).toBe(sessionCookie(lost));
    expect((await refresh(t.app, device)).status).toBe(200);
    expect(await metric('latchkey_theft_detections_total')).toMatch(/ 0$/);
  });

  it('ends a session idle for longer than the idle timeout with session_expired', async () => {
    const clock = new TestClock();
    const idle = await startTestBff({ session: { idleTimeoutSeconds: 1, absoluteTimeoutSeconds: 60 }, clock }, new MemoryStore({ clock }));
    try {
      const device = await login(idle.app);
      clock.advance(1100);
      const res = await call(idle.app, 'post', '/auth/refresh', { cookie: device.cookie });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('session_expired');
    } finally {
      await idle.close();
    }
  });

  it('never lets an access token outlive the absolute session end', async () => {
    const clock = new TestClock();
    const short = await startTestBff({ session: { idleTimeoutSeconds: 2, absoluteTimeoutSeconds: 2 }, clock }, new MemoryStore({ clock }));
    try {
      const res = await call(short.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } });
      const claims = decodeJwt(res.body.accessToken);
      expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(2);
      // The browser drops the cookie at the absolute end; a client that kept it anyway is refused.
      expect(String(res.headers['set-cookie'])).toMatch(/Max-Age=[12];/);
      clock.advance(2100);
      const after = await call(short.app, 'post', '/auth/refresh', { cookie: sessionCookie(res) });
      expect(after.status).toBe(401);
      expect(['session_expired', 'no_session']).toContain(after.body.error);
    } finally {
      await short.close();
    }
  });
});
