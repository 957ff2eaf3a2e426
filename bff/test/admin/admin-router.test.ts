import { decodeJwt, SignJWT, generateKeyPair } from 'jose';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { me, refresh, type TestBff, type TestBffOverrides } from '../helpers/harness.js';
import { startRedisServer, type RedisServer } from '@latchkey/testkit';
import { adminLogin, startAdminBff, storeFactories } from './admin-harness.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

let t: TestBff | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const POLL = { timeout: 5000, interval: 10 };
const as = (token: string) => ({ Authorization: `Bearer ${token}` });
const adminGet = (path: string, token: string) => request(t!.app).get(path).set(as(token));
const adminDelete = (path: string, token: string) => request(t!.app).delete(path).set(as(token));
const adminPost = (path: string, token: string, body?: object) => {
  const req = request(t!.app).post(path).set(as(token));
  return body === undefined ? req : req.send(body);
};
/** The token keeps working / stops working, as the guard's view catches up with the store's log. */
const meStatus = (token: string) => me(t!.app, token).then((r) => r.status);
const auditLines = () => t!.logLines.filter((l) => l.includes('"admin_audit"')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe.each(storeFactories(() => redis.url))('admin router on the %s store', (_name, makeStore, makeStorePair) => {
  it('refuses a request without a token (401) and a token without the admin scope (403), and audits the refusals', async () => {
    t = await startAdminBff(await makeStore());
    const bob = await adminLogin(t, 'bob');

    const anonymous = await request(t.app).get('/admin/users/user-bob/sessions');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    expect(anonymous.body.error).toBe('invalid_token');

    const forbidden = await adminDelete('/admin/users/user-alice/sessions', bob.token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toBe('insufficient_scope');
    expect(forbidden.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="latchkey:admin"');
    expect(forbidden.headers['cache-control']).toBe('no-store');

    const refused = auditLines();
    expect(refused.map((l) => l.outcome)).toEqual(['invalid_token', 'insufficient_scope']);
    expect(refused[1]).toMatchObject({ action: 'authenticate', path: '/users/user-alice/sessions', actor: { sub: 'user-bob', sid: bob.sid } });
    // Nothing happened to alice.
    expect((await t.store.listUserSessions('user-alice', Date.now())).length).toBe(0);
    expect(t.logLines.join('\n')).not.toContain(bob.token);
  });

  it("lists a user's devices with the public fields of GET /sessions, and ends one of them", async () => {
    t = await startAdminBff(await makeStore());
    const admin = await adminLogin(t, 'alice');
    const laptop = await adminLogin(t, 'bob');
    const phone = await adminLogin(t, 'bob');

    const listed = await adminGet('/admin/users/user-bob/sessions', admin.token);
    expect(listed.status).toBe(200);
    expect(listed.headers['cache-control']).toBe('no-store');
    expect(listed.body.sessions.map((s: { id: string }) => s.id).sort()).toEqual([laptop.sid, phone.sid].sort());
    for (const s of listed.body.sessions) {
      expect(Object.keys(s).sort()).toEqual(['createdAt', 'current', 'deviceName', 'id', 'lastActiveAt', 'tenant', 'userAgent']);
      expect(s.current).toBe(false);
    }
    // The admin's own device is `current` in their own list.
    const own = await adminGet('/admin/users/user-alice/sessions', admin.token);
    expect(own.body.sessions).toEqual([expect.objectContaining({ id: admin.sid, current: true })]);
    expect((await adminGet('/admin/users/nobody/sessions', admin.token)).body).toEqual({ sessions: [] });

    const ended = await adminDelete(`/admin/users/user-bob/sessions/${laptop.sid}`, admin.token);
    expect(ended.status).toBe(204);
    await expect.poll(() => meStatus(laptop.token), POLL).toBe(401);
    expect((await refresh(t.app, laptop)).body.error).toBe('session_revoked');
    expect(await meStatus(phone.token)).toBe(200);
    expect((await refresh(t.app, phone)).status).toBe(200);

    // Gone, someone else's, or malformed: 404, 404, 400.
    expect((await adminDelete(`/admin/users/user-bob/sessions/${laptop.sid}`, admin.token)).status).toBe(404);
    expect((await adminDelete(`/admin/users/user-alice/sessions/${phone.sid}`, admin.token)).status).toBe(404);
    const malformed = await adminDelete('/admin/users/user-bob/sessions/not%20a%20sid', admin.token);
    expect(malformed.status).toBe(400);
    expect(malformed.body).toEqual({ error: 'invalid_request', message: 'Invalid session (sid).' });
    expect(await meStatus(phone.token)).toBe(200);

    const audit = auditLines();
    expect(audit.find((l) => l.action === 'end_session' && l.outcome === 'ok')).toMatchObject({
      actor: { sub: 'user-alice', sid: admin.sid },
      target: { userId: 'user-bob', sid: laptop.sid },
    });
    expect(audit.filter((l) => l.action === 'end_session').map((l) => l.outcome)).toEqual(['ok', 'not_found', 'not_found', 'invalid_request']);
  });

  it('revokes a user: every device ends, every older token is rejected, a new login works', async () => {
    t = await startAdminBff(await makeStore());
    const admin = await adminLogin(t, 'alice');
    const devices = [await adminLogin(t, 'bob'), await adminLogin(t, 'bob')];
    const carol = await adminLogin(t, 'carol');

    const res = await adminDelete('/admin/users/user-bob/sessions', admin.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sessionsEnded: 2 });
    for (const device of devices) {
      await expect.poll(() => meStatus(device.token), POLL).toBe(401);
      expect((await refresh(t.app, device)).body.error).toBe('session_revoked');
    }
    expect(await meStatus(carol.token)).toBe(200);
    expect(await meStatus(admin.token)).toBe(200);
    // A login after the revocation works (its iat may share the revocation's second: revoked_after accounts for that).
    const again = await adminLogin(t, 'bob');
    expect(await meStatus(again.token)).toBe(200);
    expect(auditLines().find((l) => l.action === 'revoke_user')).toMatchObject({
      outcome: 'ok',
      actor: { sub: 'user-alice', sid: admin.sid },
      target: { userId: 'user-bob' },
      detail: { sessionsEnded: 2 },
    });
  });

  it('revokes one access token, by the token itself or by jti and exp; a forged token names nothing', async () => {
    t = await startAdminBff(await makeStore());
    const admin = await adminLogin(t, 'alice');
    const bob = await adminLogin(t, 'bob');

    const firstJti = decodeJwt(bob.token).jti;
    const first = await adminPost('/admin/tokens/revoke', admin.token, { token: bob.token });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ result: 'revoked' });
    await expect.poll(() => meStatus(bob.token), POLL).toBe(401);
    expect((await adminPost('/admin/tokens/revoke', admin.token, { token: bob.token })).body).toEqual({ result: 'already_revoked' });
    // Only that token: the device refreshes and goes on.
    expect((await refresh(t.app, bob)).status).toBe(200);
    expect(await meStatus(bob.token)).toBe(200);

    const { jti, exp } = decodeJwt(bob.token);
    expect((await adminPost('/admin/tokens/revoke', admin.token, { jti, exp })).body).toEqual({ result: 'revoked' });
    await expect.poll(() => meStatus(bob.token), POLL).toBe(401);

    // Same claims, another signer: refused, and no jti lands on the deny list.
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ ...decodeJwt(admin.token) }).setProtectedHeader({ alg: 'ES256', kid: 'forged', typ: 'at+jwt' }).sign(privateKey);
    const refused = await adminPost('/admin/tokens/revoke', admin.token, { token: forged });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_request');
    expect(await meStatus(admin.token)).toBe(200);

    const audit = auditLines().filter((l) => l.action === 'revoke_token');
    expect(audit.map((l) => l.outcome)).toEqual(['ok', 'ok', 'ok', 'invalid_request']);
    expect(audit[0]).toMatchObject({ actor: { sub: 'user-alice' }, detail: { jti: firstJti, sub: 'user-bob', result: 'revoked' } });
    expect(audit[2]).toMatchObject({ detail: { jti, result: 'revoked' } });
    const log = t.logLines.join('\n');
    for (const token of [admin.token, bob.token, forged]) expect(log).not.toContain(token);
  });

  it('stages, rotates and emergency-rotates the signing keys', async () => {
    t = await startAdminBff(await makeStore());
    const admin = await adminLogin(t, 'alice');
    const bob = await adminLogin(t, 'bob');

    const staged = await adminPost('/admin/keys/stage', admin.token);
    expect(staged.status).toBe(200);
    const jwks = await request(t.app).get('/auth/jwks.json');
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(staged.body.kid);

    const rotated = await adminPost('/admin/keys/rotate', admin.token, {});
    expect(rotated.body).toEqual({ kid: staged.body.kid });
    const after = await adminLogin(t, 'bob');
    expect(JSON.parse(Buffer.from(after.token.split('.')[0]!, 'base64url').toString()).kid).toBe(staged.body.kid);
    // The old key still verifies its tokens.
    expect(await meStatus(bob.token)).toBe(200);

    const emergency = await adminPost('/admin/keys/emergency-rotate', admin.token);
    expect(emergency.status).toBe(200);
    expect(emergency.body.kid).not.toBe(staged.body.kid);
    for (const token of [admin.token, bob.token, after.token]) await expect.poll(() => meStatus(token), POLL).toBe(401);
    expect(
      auditLines()
        .filter((l) => l.outcome === 'ok')
        .map((l) => [l.action, (l.detail as { kid: string }).kid]),
    ).toEqual([
      ['stage_key', staged.body.kid],
      ['rotate_key', staged.body.kid],
      ['emergency_rotate_keys', emergency.body.kid],
    ]);
  });

  it('the key routes need the keys scope besides the admin scope: 403 without it, and the key ring is untouched', async () => {
    t = await startAdminBff(await makeStore());
    const frank = await adminLogin(t, 'frank');
    const before = (await request(t.app).get('/auth/jwks.json')).body;
    for (const path of ['/admin/keys/stage', '/admin/keys/rotate', '/admin/keys/emergency-rotate']) {
      const res = await adminPost(path, frank.token);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: 'insufficient_scope', message: 'The signing keys need the latchkey:keys scope.' });
      expect(res.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="latchkey:admin latchkey:keys"');
    }
    expect((await request(t.app).get('/auth/jwks.json')).body).toEqual(before);
    expect(await meStatus(frank.token)).toBe(200);
    // The admin scope alone still reaches the user routes.
    expect((await adminGet('/admin/users/user-bob/sessions', frank.token)).status).toBe(200);
    expect(
      auditLines()
        .filter((l) => l.outcome === 'insufficient_scope')
        .map((l) => l.action),
    ).toEqual(['stage_key', 'rotate_key', 'emergency_rotate_keys']);
    const metrics = await t.bff.metrics.registry.getSingleMetricAsString('latchkey_admin_actions_total');
    expect(metrics).toContain('latchkey_admin_actions_total{action="emergency_rotate_keys",outcome="insufficient_scope"} 1');
  });

  it('an admin token with a tenant acts on that tenant only: other tenants’ users, sessions, tokens and revocation are refused', async () => {
    t = await startAdminBff(await makeStore());
    const erin = await adminLogin(t, 'erin'); // admin of acme
    const alice = await adminLogin(t, 'alice'); // no tenant
    const bob = await adminLogin(t, 'bob'); // acme
    const carol = await adminLogin(t, 'carol'); // acme
    const dave = await adminLogin(t, 'dave'); // globex
    const refused = (res: request.Response) => {
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('insufficient_scope');
    };

    // Listing: a user of the tenant, yes; of another tenant or of none, no. A user without sessions lists as empty.
    expect((await adminGet('/admin/users/user-bob/sessions', erin.token)).body.sessions).toEqual([expect.objectContaining({ id: bob.sid })]);
    refused(await adminGet('/admin/users/user-dave/sessions', erin.token));
    refused(await adminGet('/admin/users/user-alice/sessions', erin.token));
    expect((await adminGet('/admin/users/nobody/sessions', erin.token)).body).toEqual({ sessions: [] });

    // Ending a device, revoking a user: only in the tenant.
    refused(await adminDelete(`/admin/users/user-dave/sessions/${dave.sid}`, erin.token));
    refused(await adminDelete('/admin/users/user-dave/sessions', erin.token));
    refused(await adminDelete('/admin/users/user-alice/sessions', erin.token));
    // A user with no live session: nothing says it is the tenant's.
    expect((await adminDelete('/admin/users/nobody/sessions', erin.token)).status).toBe(404);
    expect((await adminDelete(`/admin/users/user-bob/sessions/${dave.sid}`, erin.token)).status).toBe(404);
    expect((await adminDelete(`/admin/users/user-carol/sessions/${carol.sid}`, erin.token)).status).toBe(204);
    expect((await adminDelete('/admin/users/user-bob/sessions', erin.token)).body).toEqual({ sessionsEnded: 1 });

    // Tokens: presented, and of the tenant; a bare jti says nothing about whose it is.
    refused(await adminPost('/admin/tokens/revoke', erin.token, { token: dave.token }));
    refused(await adminPost('/admin/tokens/revoke', erin.token, { token: alice.token }));
    refused(await adminPost('/admin/tokens/revoke', erin.token, { jti: decodeJwt(dave.token).jti as string }));
    const carolAgain = await adminLogin(t, 'carol');
    expect((await adminPost('/admin/tokens/revoke', erin.token, { token: carolAgain.token })).body).toEqual({ result: 'revoked' });

    // Tenant revocation: its own tenant only (and no invisible look-alike of it).
    refused(await adminDelete('/admin/tenants/globex/sessions', erin.token));
    expect((await adminDelete(`/admin/tenants/${encodeURIComponent('acme\u200b')}/sessions`, erin.token)).status).toBe(400);

    // Keys serve every tenant: a tenant-bound token may not rotate them, even with the keys scope.
    const jwks = (await request(t.app).get('/auth/jwks.json')).body;
    for (const path of ['/admin/keys/stage', '/admin/keys/rotate', '/admin/keys/emergency-rotate']) refused(await adminPost(path, erin.token));
    expect((await request(t.app).get('/auth/jwks.json')).body).toEqual(jwks);

    // Nothing outside acme happened.
    for (const token of [dave.token, alice.token]) expect(await meStatus(token)).toBe(200);
    expect((await t.store.listUserSessions('user-dave', Date.now())).map((s) => s.sid)).toEqual([dave.sid]);
    expect((await t.store.listUserSessions('user-alice', Date.now())).map((s) => s.sid)).toEqual([alice.sid]);

    expect((await adminDelete('/admin/tenants/acme/sessions', erin.token)).body).toEqual({ sessionsEnded: 2 });
    expect(await meStatus(dave.token)).toBe(200);
    expect(auditLines().find((l) => l.action === 'revoke_tenant' && l.outcome === 'insufficient_scope')).toMatchObject({
      actor: { sub: 'user-erin', sid: erin.sid },
      target: { tenant: 'globex' },
    });
  });

  it('revokes a tenant: its old tokens are rejected and its sessions end; other tenants and a new login work', async () => {
    t = await startAdminBff(await makeStore());
    const admin = await adminLogin(t, 'alice');
    const bob = await adminLogin(t, 'bob');
    const carol = await adminLogin(t, 'carol');
    const dave = await adminLogin(t, 'dave');
    expect(decodeJwt(bob.token).tenant).toBe('acme');
    expect(decodeJwt(dave.token).tenant).toBe('globex');
    expect(decodeJwt(admin.token)).not.toHaveProperty('tenant');

    const res = await adminDelete('/admin/tenants/acme/sessions', admin.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sessionsEnded: 2 });
    for (const device of [bob, carol]) {
      await expect.poll(() => meStatus(device.token), POLL).toBe(401);
      expect((await refresh(t.app, device)).body.error).toBe('session_revoked');
    }
    expect(await meStatus(dave.token)).toBe(200);
    expect(await meStatus(admin.token)).toBe(200);
    expect((await refresh(t.app, dave)).status).toBe(200);

    // A new login of the tenant works, even within the revocation's second (iat has whole seconds).
    const again = await adminLogin(t, 'bob');
    expect(await meStatus(again.token)).toBe(200);
    expect((await refresh(t.app, again)).status).toBe(200);
    expect(await meStatus(again.token)).toBe(200);

    expect((await adminDelete('/admin/tenants/nobody/sessions', admin.token)).body).toEqual({ sessionsEnded: 0 });
    expect((await adminDelete(`/admin/tenants/${'t'.repeat(257)}/sessions`, admin.token)).status).toBe(400);
    expect(auditLines().find((l) => l.action === 'revoke_tenant')).toMatchObject({
      outcome: 'ok',
      actor: { sub: 'user-alice', sid: admin.sid },
      target: { tenant: 'acme' },
      detail: { sessionsEnded: 2 },
    });
    const log = t.logLines.join('\n');
    for (const token of [admin.token, bob.token, carol.token, dave.token, again.token]) expect(log).not.toContain(token);
  });

  it('takes a tenant name normalised (NFC) and refuses format characters, on the route and in admin.revokeTenant', async () => {
    t = await startAdminBff(await makeStore(), {
      authenticate: async (username) => ({
        id: `user-${username}`,
        name: username,
        tenant: 'caf\u00e9',
        ...(username === 'alice' ? { scope: 'latchkey:admin' } : {}),
      }),
    });
    const admin = await adminLogin(t, 'alice');
    const erin = await adminLogin(t, 'bob');
    // Invisible look-alikes of a tenant are refused (400), and change nothing.
    for (const name of ['acme\u200b', 'caf\u00e9\u200b', '\u202ecaf\u00e9', 'caf\u00e9\ufeff']) {
      const res = await adminDelete(`/admin/tenants/${encodeURIComponent(name)}/sessions`, admin.token);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: 'Invalid tenant (tenant).' });
      await expect(t.bff.admin.revokeTenant(name)).rejects.toThrow(/format characters/);
    }
    expect(await meStatus(erin.token)).toBe(200);
    // The decomposed spelling names the same tenant as the composed one the grant was normalised to.
    const res = await adminDelete(`/admin/tenants/${encodeURIComponent('cafe\u0301')}/sessions`, admin.token);
    expect(res.body).toEqual({ sessionsEnded: 2 });
    await expect.poll(() => meStatus(erin.token), POLL).toBe(401);
  });

  it('a tenant revocation reaches another instance on the same store (through the revocation log)', async () => {
    const [store, sameStore] = await makeStorePair();
    t = await startAdminBff(store);
    const other = await startAdminBff(sameStore);
    try {
      const admin = await adminLogin(t, 'alice');
      const carol = await adminLogin(other, 'carol');
      expect((await me(other.app, carol.token)).status).toBe(200);
      await adminDelete('/admin/tenants/acme/sessions', admin.token);
      await expect.poll(async () => (await me(other.app, carol.token)).status, POLL).toBe(401);
    } finally {
      await other.bff.close();
      if (sameStore !== store) await sameStore.close();
    }
  });

  it('counts every action by outcome', async () => {
    t = await startAdminBff(await makeStore());
    const admin = await adminLogin(t, 'alice');
    await adminGet('/admin/users/user-bob/sessions', admin.token);
    await adminDelete('/admin/users/user-bob/sessions/nosuchsid', admin.token);
    const metrics = await t.bff.metrics.registry.getSingleMetricAsString('latchkey_admin_actions_total');
    expect(metrics).toContain('latchkey_admin_actions_total{action="list_sessions",outcome="ok"} 1');
    expect(metrics).toContain('latchkey_admin_actions_total{action="end_session",outcome="not_found"} 1');
  });
});

describe('a session the tenant revocation missed', () => {
  it('(written by a login that raced it, as on another Redis shard) ends at its next refresh', async () => {
    const store = new MemoryStore({ warnInProduction: false });
    t = await startAdminBff(store);
    const admin = await adminLogin(t, 'alice');
    const bob = await adminLogin(t, 'bob');
    const [record] = await store.listUserSessions('user-bob', Date.now());
    expect((await adminDelete('/admin/tenants/acme/sessions', admin.token)).body).toEqual({ sessionsEnded: 1 });
    // The race: the session lands in the store after the sweep went past it.
    await store.createSession(record!);
    await expect.poll(() => meStatus(bob.token), POLL).toBe(401);

    const res = await refresh(t.app, bob);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('session_revoked');
    expect(await store.listUserSessions('user-bob', Date.now())).toEqual([]);
    // A session started after the revocation refreshes as usual.
    const again = await adminLogin(t, 'bob');
    expect((await refresh(t.app, again)).status).toBe(200);
  });
});

describe('admin router input and failure handling', () => {
  it('validates bodies and paths strictly: JSON only, capped, no unknown fields', async () => {
    t = await startAdminBff(new MemoryStore({ warnInProduction: false }));
    const admin = await adminLogin(t, 'alice');
    const post = (body: object) => adminPost('/admin/tokens/revoke', admin.token, body);

    expect((await post({})).body).toEqual({ error: 'invalid_request', message: expect.stringMatching(/^Invalid token revocation/) });
    expect((await post({ token: 'x', jti: 'y' })).status).toBe(400);
    expect((await post({ jti: 'abc', exp: Date.now() })).status).toBe(400);
    expect((await post({ jti: '' })).status).toBe(400);
    expect((await post({ jti: 'abc', exp: 1.5 })).status).toBe(400);
    expect((await adminPost('/admin/keys/rotate', admin.token, { force: true })).body).toEqual({
      error: 'invalid_request',
      message: 'Invalid request body (force).',
    });

    const form = await request(t.app).post('/admin/tokens/revoke').set(as(admin.token)).type('form').send('jti=abc');
    expect(form.status).toBe(415);
    const huge = await post({ token: 'x'.repeat(8000) });
    expect(huge.status).toBe(413);
    const notJson = await request(t.app).post('/admin/tokens/revoke').set(as(admin.token)).set('Content-Type', 'application/json').send('{"jti":');
    expect(notJson.status).toBe(400);

    expect((await adminGet('/admin/users/%00/sessions', admin.token)).status).toBe(400);
    expect((await adminGet(`/admin/users/${'u'.repeat(1025)}/sessions`, admin.token)).status).toBe(400);
    expect((await adminGet('/admin/nothing-here', admin.token)).status).toBe(404);
    expect((await adminPost('/admin/users/user-bob/sessions', admin.token)).status).toBe(404);
    // The key ring is untouched by the refused rotation.
    expect(t.logLines.some((l) => l.includes('"rotate_key"') && l.includes('"outcome":"ok"'))).toBe(false);
  });

  it('addresses user ids with any characters (an OIDC `iss|sub` id) through URL encoding', async () => {
    const oidcId = 'https://idp.example/realms/x|sub/1';
    t = await startAdminBff(new MemoryStore({ warnInProduction: false }), {
      authenticate: async (username) => (username === 'alice' ? { id: 'user-alice', name: 'Alice', scope: 'latchkey:admin' } : { id: oidcId, name: 'Odd' }),
    });
    const admin = await adminLogin(t, 'alice');
    const odd = await adminLogin(t, 'bob');
    const path = `/admin/users/${encodeURIComponent(oidcId)}/sessions`;
    expect((await adminGet(path, admin.token)).body.sessions).toEqual([expect.objectContaining({ id: odd.sid })]);
    expect((await adminDelete(path, admin.token)).body).toEqual({ sessionsEnded: 1 });
    await expect.poll(() => meStatus(odd.token), POLL).toBe(401);
  });

  it('takes another scope when configured, and refuses bad options', async () => {
    t = await startAdminBff(
      new MemoryStore({ warnInProduction: false }),
      { authenticate: async (u) => ({ id: `user-${u}`, name: u, scope: u === 'alice' ? 'ops' : 'latchkey:admin' }) },
      { scope: 'ops' },
    );
    const alice = await adminLogin(t, 'alice');
    const bob = await adminLogin(t, 'bob');
    expect((await adminGet('/admin/users/user-bob/sessions', alice.token)).status).toBe(200);
    expect((await adminGet('/admin/users/user-bob/sessions', bob.token)).status).toBe(403);
    expect(() => t!.bff.adminRouter({ scope: 'two words' })).toThrow(/Invalid Latchkey admin router options: scope/);
    expect(() => t!.bff.adminRouter({ scop: 'x' } as never)).toThrow(/unknown option scop/);
    expect(() => t!.bff.adminRouter({ scope: 'ops', keysScope: 'ops' })).toThrow(/keysScope must differ from scope/);
    // A keys scope of the application's own.
    t.app.use('/ops', t.bff.adminRouter({ scope: 'ops', keysScope: 'ops:keys' }));
    expect((await request(t.app).post('/ops/keys/stage').set(as(alice.token))).headers['www-authenticate']).toBe(
      'Bearer error="insufficient_scope", scope="ops ops:keys"',
    );
  });

  it.each([
    ['by default', {}],
    // A scope's policy can make a route stricter, never looser: the router asks to fail closed.
    [
      'even when a scopePolicies entry makes the admin scope fail open',
      { scopePolicies: { 'latchkey:admin': { onStoreUnavailable: 'open', maxStalenessMs: 600_000 } } },
    ],
  ] satisfies Array<[string, TestBffOverrides]>)('fails closed while the store is unreachable, %s: 503, nothing done', async (_, overrides) => {
    const store = new MemoryStore({ warnInProduction: false });
    t = await startAdminBff(store, overrides);
    const admin = await adminLogin(t, 'alice');
    const bob = await adminLogin(t, 'bob');
    store.readRevocations = () => Promise.reject(new StoreUnavailableError('down'));
    // Once the guard's view is stale, every admin request is refused before it acts.
    await expect.poll(async () => (await adminGet('/admin/users/user-bob/sessions', admin.token)).status, POLL).toBe(503);
    const res = await adminDelete('/admin/users/user-bob/sessions', admin.token);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(res.headers['retry-after']).toBe('1');
    expect((await store.listUserSessions('user-bob', Date.now())).map((s) => s.sid)).toEqual([bob.sid]);
  });
});
