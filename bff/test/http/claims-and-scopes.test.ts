import { decodeJwt } from 'jose';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createBff, type AuthenticatedUser, type BffOptions } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { call, ISSUER, login, refresh, SECRET, sessionCookie, startTestBff, USERS, type TestBff } from '../helpers/harness.js';

let t: TestBff | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** A BFF whose `authenticate` grants what `grants` says to each user, with scoped routes mounted. */
async function startScopedBff(grants: Record<string, Partial<AuthenticatedUser>>, overrides: Partial<BffOptions> = {}): Promise<TestBff> {
  const bff = await startTestBff({
    authenticate: async (username, password) => {
      const user = USERS[username];
      return user && user.password === password ? ({ id: user.id, name: user.name, ...grants[username] } as AuthenticatedUser) : null;
    },
    ...overrides,
  });
  // The harness's error handler sits before these routes, so they get their own after them.
  const guarded = (path: string, options: Parameters<typeof bff.bff.requireAuth>[0]) =>
    bff.app.get(path, bff.bff.requireAuth(options), (req, res) => void res.json(req.auth));
  guarded('/api/feed', { scopes: ['read:feed'] });
  guarded('/api/admin', { scopes: ['admin'], onStoreUnavailable: 'open', maxStalenessMs: 600_000 });
  guarded('/api/both', { scopes: ['read:feed', 'admin'] });
  guarded('/api/feed-closed', { scopes: ['read:feed'], onStoreUnavailable: 'closed' });
  guarded('/api/claims', {});
  bff.app.use(bff.bff.errorHandler);
  return bff;
}

const get = (app: TestBff['app'], path: string, token: string) => request(app).get(path).set('Authorization', `Bearer ${token}`);

describe('custom claims and scope from authenticate', () => {
  it('puts the claims and scope into the access token, and a refresh re-issues them', async () => {
    t = await startScopedBff({ alice: { claims: { tenant: 'acme', roles: ['editor'] }, scope: ['read:feed', 'admin', 'read:feed'] } });
    const device = await login(t.app);
    const claims = decodeJwt(device.token);
    expect(claims).toMatchObject({ tenant: 'acme', roles: ['editor'], scope: 'read:feed admin', sub: 'user-alice', sid: device.sid });

    const before = device.token;
    expect((await refresh(t.app, device)).status).toBe(200);
    expect(device.token).not.toBe(before);
    expect(decodeJwt(device.token)).toMatchObject({ tenant: 'acme', roles: ['editor'], scope: 'read:feed admin' });
    const res = await get(t.app, '/api/claims', device.token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tenant: 'acme', scope: 'read:feed admin', sub: 'user-alice' });
  });

  it('accepts a space-separated scope string; a user granted nothing gets no scope claim', async () => {
    t = await startScopedBff({ alice: { scope: ' read:feed  admin ' } });
    expect(decodeJwt((await login(t.app)).token).scope).toBe('read:feed admin');
    const bob = decodeJwt((await login(t.app, 'bob')).token);
    expect(bob).not.toHaveProperty('scope');
    expect(Object.keys(bob).sort()).toEqual(['amr', 'aud', 'auth_time', 'client_id', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub']);
  });

  it.each([
    ['a registered claim', { claims: { sub: 'user-bob' } }, /registered claims.*sub/],
    ['typ', { claims: { typ: 'id' } }, /registered claims.*typ/],
    // RFC 8693: a resource server honouring `act` would take it for a delegation Latchkey never made.
    ['act (RFC 8693)', { claims: { act: { sub: 'user-bob' } } }, /registered claims.*act/],
    ['may_act (RFC 8693)', { claims: { may_act: { sub: 'user-mallory' } } }, /registered claims.*may_act/],
    ['a tenant with a format character', { tenant: 'acme\u200b' }, /tenant.*format characters/],
    ['a value that is not JSON', { claims: { when: new Date() } }, /claims\.when/],
    ['a scope with a space inside an array entry', { scope: ['read feed'] }, /scope\.0/],
    ['a scope with a quote', { scope: 'admin"' }, /scope\.0/],
    ['too many bytes', { claims: { blob: 'x'.repeat(2000) } }, /maxClaimsBytes/],
  ])('refuses %s: 500, no session, no cookie, nothing logged but the reason', async (_label, grant, reason) => {
    t = await startScopedBff({ alice: grant as Partial<AuthenticatedUser> });
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'internal_error', message: 'Something went wrong.' });
    expect(sessionCookie(res)).toBeNull();
    expect(await t.store.listUserSessions('user-alice', Date.now())).toEqual([]);
    expect(t.logLines.join('\n')).toMatch(reason);
  });

  it('a bad grant does not end the session this browser already had', async () => {
    const grants: Record<string, Partial<AuthenticatedUser>> = {};
    t = await startScopedBff(grants);
    const first = await login(t.app);
    grants.alice = { claims: { iss: 'https://evil.example' } };
    const res = await call(t.app, 'post', '/auth/login', { cookie: first.cookie, body: { username: 'alice', password: 'wonderland' } });
    expect(res.status).toBe(500);
    expect((await refresh(t.app, first)).status).toBe(200);
  });
});

describe('requireAuth({ scopes })', () => {
  it('403 insufficient_scope with an RFC 6750 challenge naming the scopes, through the error handler', async () => {
    t = await startScopedBff({ alice: { scope: 'read:feed' } });
    const device = await login(t.app);
    expect((await get(t.app, '/api/feed', device.token)).status).toBe(200);
    for (const path of ['/api/admin', '/api/both']) {
      const res = await get(t.app, path, device.token);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: 'insufficient_scope', message: 'The access token lacks a scope this route requires.' });
      expect(res.headers['cache-control']).toBe('no-store');
    }
    expect((await get(t.app, '/api/admin', device.token)).headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="admin"');
    expect((await get(t.app, '/api/both', device.token)).headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="read:feed admin"');
    expect(await t.bff.metrics.registry.getSingleMetricAsString('latchkey_auth_decisions_total')).toMatch(/outcome="insufficient_scope"} 4$/m);
  });

  it('a token without a scope claim gets 403 on a scoped route; a bad token still gets 401 first', async () => {
    t = await startScopedBff({});
    const device = await login(t.app);
    expect((await get(t.app, '/api/feed', device.token)).status).toBe(403);
    const bad = await get(t.app, '/api/feed', `${device.token.slice(0, -2)}AA`);
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect((await request(t.app).get('/api/feed')).status).toBe(401);
  });

  it('grants a route only when every required scope is present', async () => {
    t = await startScopedBff({ alice: { scope: 'read:feed admin' } });
    const device = await login(t.app);
    for (const path of ['/api/feed', '/api/admin', '/api/both']) expect((await get(t.app, path, device.token)).status).toBe(200);
  });

  it('refuses an invalid scope name when the route is declared', async () => {
    t = await startScopedBff({});
    expect(() => t!.bff.requireAuth({ scopes: ['has space'] })).toThrow(/invalid scope/);
    expect(() => t!.bff.requireAuth({ scopes: [''] })).toThrow(/invalid scope/);
  });
});

describe('fail policy per scope (scopePolicies)', () => {
  it('the strictest policy among the route’s scopes wins over the route default while the store is unreachable', async () => {
    t = await startScopedBff(
      { alice: { scope: 'read:feed admin' } },
      { scopePolicies: { admin: { onStoreUnavailable: 'closed' }, 'read:feed': { onStoreUnavailable: 'open', maxStalenessMs: 600_000 } } },
    );
    const device = await login(t.app);
    for (const path of ['/api/feed', '/api/admin', '/api/both']) expect((await get(t.app, path, device.token)).status).toBe(200);

    t.store.readRevocations = () => Promise.reject(new StoreUnavailableError('down'));
    // The unscoped route fails closed (its default) once the view is stale: the outage is visible.
    await expect.poll(async () => (await get(t!.app, '/api/claims', device.token)).status, { timeout: 10_000, interval: 100 }).toBe(503);
    // read:feed is fail-open (bounded): served from the local view.
    expect((await get(t.app, '/api/feed', device.token)).status).toBe(200);
    // admin is fail-closed even though its route says open.
    const admin = await get(t.app, '/api/admin', device.token);
    expect(admin.status).toBe(503);
    expect(admin.body.error).toBe('temporarily_unavailable');
    // A route requiring both: the strictest (closed) wins.
    expect((await get(t.app, '/api/both', device.token)).status).toBe(503);
    // A route that itself asks to fail closed stays closed, whatever its scope's policy allows.
    expect((await get(t.app, '/api/feed-closed', device.token)).status).toBe(503);
  });

  it('validates scopePolicies and tokens.maxClaimsBytes', async () => {
    const base = { store: new MemoryStore({ warnInProduction: false }), secrets: [SECRET], tokens: { issuer: ISSUER }, authenticate: async () => null };
    await expect(createBff({ ...base, scopePolicies: { 'bad scope': { onStoreUnavailable: 'open' } } })).rejects.toThrow(/scopePolicies/);
    await expect(createBff({ ...base, scopePolicies: { admin: { onStoreUnavailable: 'maybe' as 'open' } } })).rejects.toThrow(/scopePolicies\.admin/);
    await expect(createBff({ ...base, tokens: { issuer: ISSUER, maxBytes: 2048, maxClaimsBytes: 1024 } })).rejects.toThrow(/tokens\.maxClaimsBytes/);
  });
});
