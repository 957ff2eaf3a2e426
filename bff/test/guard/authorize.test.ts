import { afterEach, describe, expect, it } from 'vitest';
import { effectivePolicy, resolveRoute, stalenessVerdict } from '../../src/guard/fail-policy.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { login, startTestBff, type TestBff } from '../helpers/harness.js';

let t: TestBff | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const errorOf = (result: Awaited<ReturnType<TestBff['bff']['guard']['authorize']>>) =>
  result.ok ? null : { code: result.error.code, message: result.error.message, status: result.error.status, headers: result.error.headers };

describe('guard.authorize(): the framework-neutral core of requireAuth', () => {
  it('answers the verified claims for a valid Bearer header, without Express', async () => {
    t = await startTestBff();
    const device = await login(t.app);
    const result = await t.bff.guard.authorize(`Bearer ${device.token}`);
    expect(result).toMatchObject({ ok: true, failOpen: false, claims: { sub: 'user-alice', sid: device.sid } });
    // The second time from the verified-token cache: the same answer.
    expect(await t.bff.guard.authorize(`bearer ${device.token}`, t.bff.guard.route())).toMatchObject({ ok: true, claims: { sid: device.sid } });
  });

  it('answers the same LatchkeyErrors requireAuth sends: missing, malformed, revoked, insufficient scope', async () => {
    t = await startTestBff();
    const device = await login(t.app);
    expect(errorOf(await t.bff.guard.authorize(undefined))).toEqual({
      code: 'invalid_token',
      message: 'The access token is invalid.',
      status: 401,
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
    for (const header of ['Basic abc', `Bearer ${device.token} x`, 'Bearer not-a-jwt']) {
      expect(errorOf(await t.bff.guard.authorize(header))).toMatchObject({
        code: 'invalid_token',
        headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
      });
    }
    expect(errorOf(await t.bff.guard.authorize(`Bearer ${device.token}`, { scopes: ['admin', 'read:feed'] }))).toEqual({
      code: 'insufficient_scope',
      message: 'The access token lacks a scope this route requires.',
      status: 403,
      headers: { 'WWW-Authenticate': 'Bearer error="insufficient_scope", scope="admin read:feed"' },
    });
    await t.bff.admin.revokeUser('user-alice');
    await expect.poll(async () => errorOf(await t!.bff.guard.authorize(`Bearer ${device.token}`))?.code).toBe('invalid_token');
  });

  it('answers 503 temporarily_unavailable per the fail policy once the store stops answering (fail-open routes still pass)', async () => {
    t = await startTestBff();
    const device = await login(t.app);
    t.store.readRevocations = () => Promise.reject(new StoreUnavailableError('down'));
    await expect
      .poll(async () => errorOf(await t!.bff.guard.authorize(`Bearer ${device.token}`))?.code, { timeout: 5000, interval: 100 })
      .toBe('temporarily_unavailable');
    const open = await t.bff.guard.authorize(`Bearer ${device.token}`, { onStoreUnavailable: 'open' });
    expect(open).toMatchObject({ ok: true, failOpen: true, claims: { sid: device.sid } });
  });

  it('refuses invalid route options with a TypeError, as requireAuth does', async () => {
    t = await startTestBff();
    await expect(t.bff.guard.authorize('Bearer x', { scopes: ['bad scope'] })).rejects.toThrow(TypeError);
    expect(() => t!.bff.guard.route({ onStoreUnavailable: 'maybe' as 'open' })).toThrow("onStoreUnavailable must be 'open' or 'closed'");
  });
});

describe('fail policy (pure)', () => {
  it('a route without scope policies keeps its own policy; closed is the default', () => {
    expect(effectivePolicy({ onStoreUnavailable: 'open', maxStalenessMs: 5, scopes: ['a'] }, undefined)).toEqual({
      onStoreUnavailable: 'open',
      maxStalenessMs: 5,
    });
    expect(effectivePolicy({}, { a: { onStoreUnavailable: 'open' } })).toEqual({});
  });

  it('the strictest of the scopes’ policies and the route’s own wins', () => {
    const scopes = {
      open: { onStoreUnavailable: 'open', maxStalenessMs: 60_000 },
      short: { onStoreUnavailable: 'open', maxStalenessMs: 5000 },
      closed: {},
    } as const;
    expect(effectivePolicy({ scopes: ['open', 'short'] }, scopes)).toEqual({ onStoreUnavailable: 'open', maxStalenessMs: 5000 });
    expect(effectivePolicy({ scopes: ['open', 'closed'] }, scopes)).toEqual({ onStoreUnavailable: 'closed' });
    // A route asking to fail closed stays closed, whatever a scope allows; one asking open cannot loosen a scope.
    expect(effectivePolicy({ scopes: ['open'], onStoreUnavailable: 'closed' }, scopes)).toEqual({ onStoreUnavailable: 'closed' });
    expect(effectivePolicy({ scopes: ['open'], onStoreUnavailable: 'open', maxStalenessMs: 1000 }, scopes)).toEqual({
      onStoreUnavailable: 'open',
      maxStalenessMs: 1000,
    });
    expect(effectivePolicy({ scopes: ['open'], onStoreUnavailable: 'open' }, scopes)).toEqual({ onStoreUnavailable: 'open', maxStalenessMs: 30_000 });
  });

  it('a route’s own maxStalenessMs bounds a scope that fails open, even when the route sets no onStoreUnavailable', () => {
    const scopes = { 'read:feed': { onStoreUnavailable: 'open', maxStalenessMs: 30_000 } } as const;
    const policy = resolveRoute({ scopes: ['read:feed'], maxStalenessMs: 100 }, scopes).policy;
    expect(policy).toEqual({ onStoreUnavailable: 'open', maxStalenessMs: 100 });
    // 1.5 s stale: past the route's 100 ms, so 503, not the scope's 30 s.
    expect(() => stalenessVerdict(1500, 500, policy)).toThrow(StoreUnavailableError);
    // A larger bound on the route never loosens the scope's.
    expect(effectivePolicy({ scopes: ['read:feed'], maxStalenessMs: 60_000 }, scopes)).toEqual({ onStoreUnavailable: 'open', maxStalenessMs: 30_000 });
  });

  it('trusts a fresh view, fails open within the bound, throws StoreUnavailableError past it', () => {
    expect(stalenessVerdict(500, 500, {})).toBe('trusted');
    expect(() => stalenessVerdict(501, 500, {})).toThrow(new StoreUnavailableError('revocation view is 501 ms stale'));
    expect(() => stalenessVerdict(Number.POSITIVE_INFINITY, 500, { onStoreUnavailable: 'open' })).toThrow('revocation view not loaded yet');
    expect(stalenessVerdict(30_000, 500, { onStoreUnavailable: 'open' })).toBe('fail_open');
    expect(() => stalenessVerdict(30_001, 500, { onStoreUnavailable: 'open' })).toThrow(StoreUnavailableError);
    expect(stalenessVerdict(900, 500, { onStoreUnavailable: 'open', maxStalenessMs: 1000 })).toBe('fail_open');
  });

  it('resolveRoute deduplicates scopes and freezes the route', () => {
    const route = resolveRoute({ scopes: ['a', 'a', 'b'] }, undefined);
    expect(route.scopes).toEqual(['a', 'b']);
    expect(Object.isFrozen(route) && Object.isFrozen(route.policy) && Object.isFrozen(route.scopes)).toBe(true);
    expect(() => resolveRoute({ scopes: [''] }, undefined)).toThrow('requireAuth: invalid scope ""');
  });
});
