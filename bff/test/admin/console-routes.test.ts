import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ActivityLog } from '../../src/observability/activity-log.js';
import { newSessionKey } from '../../src/store/session-key.js';
import type { TestBff } from '../helpers/harness.js';
import { startRedisServer, type RedisServer } from '@latchkey/testkit';
import { adminLogin, startAdminBff, storeFactories } from './admin-harness.js';

/** The admin router's read routes for an operators' console: GET /operator, /keys, /activity. */
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
const get = (path: string, token: string) => request(t!.app).get(path).set('Authorization', `Bearer ${token}`);
const send = (method: 'post' | 'delete', path: string, token: string) => request(t!.app)[method](path).set('Authorization', `Bearer ${token}`);
type Entry = Record<string, unknown>;
const activity = async (token: string): Promise<Entry[]> => ((await get('/admin/activity', token)).body as { entries: Entry[] }).entries;

describe.each(storeFactories(() => redis.url))('admin console reads on the %s store', (_name, makeStore) => {
  it('GET /operator says who the admin is, its tenant and whether it may use the keys; a non-admin gets 403', async () => {
    t = await startAdminBff(await makeStore());
    const [alice, erin, frank, bob] = [await adminLogin(t, 'alice'), await adminLogin(t, 'erin'), await adminLogin(t, 'frank'), await adminLogin(t, 'bob')];
    expect((await get('/admin/operator', alice.token)).body).toEqual({ sub: 'user-alice', sid: alice.sid, tenant: null, keys: true });
    expect((await get('/admin/operator', erin.token)).body).toEqual({ sub: 'user-erin', sid: erin.sid, tenant: 'acme', keys: true });
    expect((await get('/admin/operator', frank.token)).body).toEqual({ sub: 'user-frank', sid: frank.sid, tenant: null, keys: false });
    const refused = await get('/admin/operator', bob.token);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ error: 'insufficient_scope', message: expect.any(String) });
    expect(refused.headers['cache-control']).toBe('no-store');
  });

  it('GET /keys shows the ring (kid, alg, state, ages), never key material, and follows a rotation made elsewhere', async () => {
    t = await startAdminBff(await makeStore());
    const alice = await adminLogin(t, 'alice');
    const first = await get('/admin/keys', alice.token);
    expect(first.status).toBe(200);
    expect(first.body.keys).toEqual([{ kid: expect.any(String), alg: 'ES256', state: 'active', createdAt: expect.any(Number), retireAfter: null }]);
    const oldKid = first.body.keys[0].kid as string;

    const staged = (await send('post', '/admin/keys/stage', alice.token)).body.kid as string;
    expect((await get('/admin/keys', alice.token)).body.keys.map((k: Entry) => [k.kid, k.state])).toEqual([
      [oldKid, 'active'],
      [staged, 'staged'],
    ]);
    // Another instance of the deployment rotates: this one reads the store before answering.
    await t.bff.keyRing.rotate();
    const after = (await get('/admin/keys', alice.token)).body as { keys: Entry[]; now: number };
    expect(after.keys.find((k) => k.kid === oldKid)).toMatchObject({ state: 'retired', retireAfter: expect.any(Number) });
    expect(after.keys.find((k) => k.kid === staged)).toMatchObject({ state: 'active' });
    expect(JSON.stringify(after)).not.toMatch(/"d"|privateJwk|"x"/);
  });

  it('GET /activity shows admin actions with who/what/target, the revocations they caused, and refusals; not its own reads', async () => {
    t = await startAdminBff(await makeStore());
    const alice = await adminLogin(t, 'alice');
    const bob = await adminLogin(t, 'bob');
    expect((await send('delete', `/admin/users/user-bob/sessions/${bob.sid}`, alice.token)).status).toBe(204);
    expect((await send('delete', '/admin/tenants/globex/sessions', alice.token)).status).toBe(200);
    const carol = await adminLogin(t, 'carol');
    expect((await get('/admin/keys', carol.token)).status).toBe(403);
    await get('/admin/keys', alice.token);

    await expect.poll(async () => (await activity(alice.token)).map((e) => e.kind), POLL).toEqual(expect.arrayContaining(['session_ended', 'tenant_revoked']));
    const entries = await activity(alice.token);
    expect(entries.find((e) => e.kind === 'admin_action' && e.action === 'end_session')).toMatchObject({
      source: 'process',
      outcome: 'ok',
      actor: { sub: 'user-alice', sid: alice.sid },
      target: { userId: 'user-bob', sid: bob.sid },
      at: expect.any(Number),
    });
    expect(entries.find((e) => e.kind === 'session_ended')).toMatchObject({ source: 'log', sid: bob.sid, userId: 'user-bob', reason: 'admin_device' });
    expect(entries.find((e) => e.kind === 'tenant_revoked')).toMatchObject({ tenant: 'globex' });
    expect(entries.find((e) => e.kind === 'admin_refused')).toMatchObject({
      outcome: 'insufficient_scope',
      actor: { sub: 'user-carol' },
      target: { path: '/keys' },
    });
    // Newest first; the console's polling reads stay out of it.
    const seqs = entries.map((e) => e.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(entries.some((e) => typeof e.action === 'string' && e.action.startsWith('read_'))).toBe(false);
    // Still audited, at debug (a console polls them); the actions at info.
    const audit = t.logLines.map((l) => JSON.parse(l) as Entry).filter((l) => l.event === 'admin_audit' && l.outcome === 'ok');
    expect(audit.find((l) => l.action === 'read_keys')).toMatchObject({ level: 20, actor: { sub: 'user-alice' } });
    expect(audit.find((l) => l.action === 'end_session')).toMatchObject({ level: 30 });
    const body = JSON.stringify(entries);
    expect(body).not.toContain(bob.token);
    expect(body).not.toContain(bob.cookie.split('=')[1]);
  });

  it('GET /activity is refused to a tenant-bound admin (it names every tenant)', async () => {
    t = await startAdminBff(await makeStore());
    const erin = await adminLogin(t, 'erin');
    const res = await get('/admin/activity', erin.token);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: 'insufficient_scope', message: 'The activity feed covers every tenant: a tenant-bound admin token cannot read it.' });
  });

  it('records an eviction by the per-user session cap', async () => {
    t = await startAdminBff(await makeStore(), { session: { maxPerUser: 1 } });
    const alice = await adminLogin(t, 'alice');
    const first = await adminLogin(t, 'bob');
    await adminLogin(t, 'bob');
    expect((await activity(alice.token)).find((e) => e.kind === 'session_evicted')).toMatchObject({ userId: 'user-bob', sid: first.sid });
  });

  it("lists a user's sessions with their tenant and IdP link (issuer and subject only, never the IdP's tokens)", async () => {
    t = await startAdminBff(await makeStore());
    const alice = await adminLogin(t, 'alice');
    await adminLogin(t, 'bob');
    const listed = await get('/admin/users/user-bob/sessions', alice.token);
    expect(listed.body.sessions).toEqual([expect.objectContaining({ tenant: 'acme' })]);
    expect(listed.body.sessions[0]).not.toHaveProperty('idp');
    expect((await get('/admin/users/user-alice/sessions', alice.token)).body.sessions[0]).not.toHaveProperty('tenant');

    // A session an OpenID Connect sign-in started: its record carries the sealed IdP tokens beside iss and sub.
    const [record] = await t.store.listUserSessions('user-bob', Date.now());
    const idp = {
      iss: 'https://idp.example',
      sub: 'bob@idp',
      sid: 'idp-session-1',
      refreshTokenSealed: 'sealed-refresh',
      idTokenSealed: 'sealed-id',
      accessExpiresAt: Date.now() + 60_000,
    };
    await t.store.createSession({ ...record!, key: newSessionKey('user-bob'), sid: 'oidc-session-sid', idp });
    const withIdp = (await get('/admin/users/user-bob/sessions', alice.token)).body.sessions as Entry[];
    const oidc = withIdp.find((s) => s.id === 'oidc-session-sid');
    expect(oidc).toMatchObject({ idp: { iss: 'https://idp.example', sub: 'bob@idp' }, tenant: 'acme' });
    expect(Object.keys(oidc!.idp as object).sort()).toEqual(['iss', 'sub']);
    expect(JSON.stringify(withIdp)).not.toMatch(/sealed|idp-session-1/);
  });
});

describe('ActivityLog', () => {
  it('maps log events to feed entries (a reused credential is a theft), skips session starts, and stays bounded', () => {
    const log = new ActivityLog(() => 1000, 3);
    log.recordLogEvent({ kind: 'sid', id: 's1', userId: 'u1', reason: 'reuse_detected', expiresAt: 9, at: 5 });
    log.recordLogEvent({ kind: 'session', id: 's2', userId: 'u1', expiresAt: 9, at: 6 });
    log.recordLogEvent({ kind: 'jti', id: 'j1', expiresAt: 9, at: 7 });
    log.recordLogEvent({ kind: 'user', id: 'u2', revokedAfter: 1, expiresAt: 9, at: 8 });
    log.record({ kind: 'session_evicted', userId: 'u3', sid: 's3' });
    expect(log.recent()).toEqual([
      { seq: 4, at: 1000, kind: 'session_evicted', source: 'process', userId: 'u3', sid: 's3' },
      { seq: 3, at: 8, kind: 'user_revoked', source: 'log', userId: 'u2' },
      { seq: 2, at: 7, kind: 'token_revoked', source: 'log', jti: 'j1' },
    ]);
    expect(log.recent(1).map((e) => e.seq)).toEqual([4]);
  });
});
