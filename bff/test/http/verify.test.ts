/** bff.verify: the guard for any server, from a Fetch Request, a Headers or a plain headers object. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Guard } from '../../src/guard/guard.js';
import { createVerifyRequest } from '../../src/guard/verify-request.js';
import { call, login, startTestBff, type TestBff } from '../helpers/harness.js';

describe('bff.verify', () => {
  let t: TestBff;
  beforeAll(async () => {
    t = await startTestBff();
  });
  afterAll(() => t.close());

  const outcome = (result: Awaited<ReturnType<TestBff['bff']['verify']>>) =>
    result.ok
      ? { ok: true, sub: result.claims.sub }
      : { ok: false, status: result.error.status, code: result.error.code, message: result.error.publicMessage, headers: result.error.headers };

  it('accepts a valid token from a Fetch Request, a Headers, an object with get() and a plain headers object', async () => {
    const device = await login(t.app);
    const authorization = `Bearer ${device.token}`;
    const sources = [
      new Request('https://app.example.test/api/me', { headers: { Authorization: authorization } }),
      new Headers({ authorization }),
      { get: (name: string) => (name === 'authorization' ? authorization : null) },
      { authorization, accept: 'application/json' },
      // Another framework's Request class: read by its shape.
      { url: '/api/me', headers: new Headers({ authorization }) },
    ];
    for (const source of sources) expect(outcome(await t.bff.verify(source))).toEqual({ ok: true, sub: 'user-alice' });
  });

  it('answers what requireAuth answers: 401 without a token, with a bad one, or several; 403 without a scope; 401 once the session ended', async () => {
    const device = await login(t.app);
    const missing = outcome(await t.bff.verify(new Request('https://app.example.test/api/me')));
    expect(missing).toMatchObject({ ok: false, status: 401, code: 'invalid_token', headers: { 'WWW-Authenticate': 'Bearer' } });
    const bad = outcome(await t.bff.verify(new Headers({ authorization: 'Bearer not-a-token' })));
    expect(bad).toMatchObject({ ok: false, status: 401, code: 'invalid_token', headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } });
    const several = outcome(await t.bff.verify({ authorization: [`Bearer ${device.token}`, `Bearer ${device.token}`] }));
    expect(several).toMatchObject({ ok: false, status: 401, code: 'invalid_token' });

    const scoped = outcome(await t.bff.verify(new Headers({ authorization: `Bearer ${device.token}` }), { scopes: ['admin'] }));
    expect(scoped).toMatchObject({
      ok: false,
      status: 403,
      code: 'insufficient_scope',
      headers: { 'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="admin"' },
    });
    // A route resolved once, as a hot path would.
    const route = t.bff.guard.route({ scopes: [] });
    expect(outcome(await t.bff.verify(new Headers({ authorization: `Bearer ${device.token}` }), route))).toEqual({ ok: true, sub: 'user-alice' });

    expect((await call(t.app, 'post', '/auth/logout', { cookie: device.cookie })).status).toBe(204);
    await expect
      .poll(async () => outcome(await t.bff.verify(new Headers({ authorization: `Bearer ${device.token}` }))), { timeout: 3000, interval: 10 })
      .toMatchObject({ ok: false, status: 401, code: 'invalid_token' });
  });

  it('hands the guard the header and the route as given, and the request path for its logs', async () => {
    const calls: unknown[][] = [];
    const guard = { authorize: async (...args: unknown[]) => (calls.push(args), { ok: false }) } as unknown as Guard;
    const verify = createVerifyRequest(guard);
    await verify(new Request('https://app.example.test/api/orders?x=1', { headers: { Authorization: 'Bearer abc' } }), { scopes: ['read'] });
    await verify({ url: 'relative/only', headers: new Headers() });
    await verify({ authorization: 'Bearer def' });
    expect(calls).toEqual([
      ['Bearer abc', { scopes: ['read'] }, { path: '/api/orders' }],
      [undefined, undefined, { path: undefined }],
      ['Bearer def', undefined, {}],
    ]);
  });
});
