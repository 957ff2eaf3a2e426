import type { Response } from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { call, login, refresh, startTestBff, type TestBff } from '../helpers/harness.js';

/**
 * The hint cookie (`<cookie.name>-hint=1`): readable by the page, no secret, set and cleared with every session cookie,
 * so the client can tell without a request (a 401 browsers log as an error) that there is no session to restore.
 */
let t: TestBff | undefined;
afterEach(() => t?.close());

const line = (res: Response, name: string) => ((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []).find((l) => l.startsWith(`${name}=`));
const maxAge = (cookie: string | undefined) => /; Max-Age=(\d+)/.exec(cookie ?? '')?.[1];

describe('the session hint cookie', () => {
  it('is set beside the session cookie on login and refresh: value 1, readable by the page, same lifetime and scope', async () => {
    t = await startTestBff();
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } });
    const hint = line(res, '__Host-latchkey-hint');
    expect(hint).toMatch(/^__Host-latchkey-hint=1; Max-Age=\d+; Path=\/; Secure; SameSite=Strict$/);
    expect(hint).not.toMatch(/HttpOnly/i);
    expect(maxAge(hint)).toBe(maxAge(line(res, '__Host-latchkey')));

    const device = await login(t.app);
    const refreshed = await refresh(t.app, device);
    expect(refreshed.status).toBe(200);
    expect(line(refreshed, '__Host-latchkey-hint')).toMatch(/^__Host-latchkey-hint=1; Max-Age=[1-9]\d*;/);
  });

  it('is cleared with the session cookie: logout, logout-all, revoking this device, and a refresh answered 401', async () => {
    t = await startTestBff();
    const cleared = /^__Host-latchkey-hint=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; SameSite=Strict$/;

    const a = await login(t.app);
    expect(line(await call(t.app, 'post', '/auth/logout', { cookie: a.cookie }), '__Host-latchkey-hint')).toMatch(cleared);
    const b = await login(t.app);
    expect(line(await call(t.app, 'post', '/auth/logout-all', { cookie: b.cookie }), '__Host-latchkey-hint')).toMatch(cleared);
    const c = await login(t.app);
    expect(line(await call(t.app, 'delete', `/auth/sessions/${c.sid}`, { cookie: c.cookie }), '__Host-latchkey-hint')).toMatch(cleared);

    // No cookie at all (a hint left behind by a cleared jar): the 401 no_session clears the hint too.
    const none = await call(t.app, 'post', '/auth/refresh');
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('no_session');
    expect(line(none, '__Host-latchkey-hint')).toMatch(cleared);
    // An ended session: 401 session_revoked, cleared.
    const ended = await call(t.app, 'post', '/auth/refresh', { cookie: b.cookie });
    expect(ended.status).toBe(401);
    expect(line(ended, '__Host-latchkey-hint')).toMatch(cleared);
  });

  it('follows the session cookie name: per-app cookie.name, and plain http without the prefix or Secure', async () => {
    t = await startTestBff({ cookie: { name: '__Host-orders' } });
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } });
    expect(line(res, '__Host-orders-hint')).toMatch(/^__Host-orders-hint=1;/);
    expect(line(res, '__Host-latchkey-hint')).toBeUndefined();
    await t.close();

    t = await startTestBff({ dangerouslyAllowInsecureHttp: true });
    const insecure = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } });
    const hint = line(insecure, 'latchkey-hint');
    expect(hint).toMatch(/^latchkey-hint=1; Max-Age=\d+; Path=\/; SameSite=Strict$/);
  });
});
