/**
 * Incident response: `bff.admin.revokeAllSessions()` and `POST /admin/sessions/revoke-all`. Every access token issued
 * before it is refused by every guard on every instance (the global `revoked_after`, through the revocation log), every
 * device session of every user ends (refresh: 401 session_revoked), a login right after works; audited and counted.
 */
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { me, refresh, type TestBff } from '../helpers/harness.js';
import { startRedisServer, type RedisServer } from '@latchkey/testkit';
import { adminLogin, startAdminBff, storeFactories } from './admin-harness.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

const opened: TestBff[] = [];
afterEach(async () => {
  for (const t of opened.splice(0)) await t.close();
});

const POLL = { timeout: 5000, interval: 10 };
const revokeAll = (t: TestBff, token: string, body?: object) => {
  const req = request(t.app)
    .post('/admin/sessions/revoke-all')
    .set({ Authorization: `Bearer ${token}` });
  return body === undefined ? req : req.send(body);
};
const auditLines = (t: TestBff) => t.logLines.filter((l) => l.includes('"admin_audit"')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe.each(storeFactories(() => redis.url))('revoking every session on the %s store', (_name, makeStore, makeStorePair) => {
  it('POST /admin/sessions/revoke-all: every older token refused on both instances, every device signed out, a new login works; audited, counted', async () => {
    const [store, sameStore] = await makeStorePair();
    const t = await startAdminBff(store);
    opened.push(t);
    const other = await startAdminBff(sameStore);
    try {
      const admin = await adminLogin(t, 'alice');
      const devices = [await adminLogin(t, 'bob'), await adminLogin(other, 'bob'), await adminLogin(other, 'carol'), await adminLogin(t, 'dave')];
      for (const d of devices) expect((await me(other.app, d.token)).status).toBe(200);

      const res = await revokeAll(t, admin.token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ sessionsEnded: 5 });

      // Every token issued before, the admin's own included, on this instance and the other one.
      for (const app of [t.app, other.app]) {
        for (const d of [admin, ...devices]) await expect.poll(async () => (await me(app, d.token)).status, POLL).toBe(401);
      }
      for (const d of [admin, ...devices]) {
        const refused = await refresh(t.app, d);
        expect({ status: refused.status, error: refused.body.error }).toEqual({ status: 401, error: 'session_revoked' });
      }
      // A login right after (its iat may share the revocation's second) works, on either instance.
      const again = await adminLogin(other, 'bob');
      expect((await me(t.app, again.token)).status).toBe(200);
      expect((await me(other.app, again.token)).status).toBe(200);
      expect((await refresh(other.app, again)).status).toBe(200);

      expect(auditLines(t).find((l) => l.action === 'revoke_all_sessions')).toMatchObject({
        outcome: 'ok',
        actor: { sub: 'user-alice', sid: admin.sid },
        detail: { sessionsEnded: 5 },
      });
      // The operators' feed shows it, on the other instance too (it comes through the revocation log).
      const feed = await request(other.app)
        .get('/admin/activity')
        .set({ Authorization: `Bearer ${again.token}` });
      expect(feed.status).toBe(403); // bob holds no admin scope
      const alice = await adminLogin(t, 'alice');
      const entries = (
        await request(other.app)
          .get('/admin/activity')
          .set({ Authorization: `Bearer ${alice.token}` })
      ).body.entries as Array<{ kind: string }>;
      expect(entries.map((e) => e.kind)).toContain('all_revoked');
      const metrics = await t.bff.metrics.registry.metrics();
      expect(metrics).toContain('latchkey_admin_actions_total{action="revoke_all_sessions",outcome="ok"} 1');
      expect(metrics).toContain('latchkey_logouts_total{reason="all_revoked"} 5');
    } finally {
      await other.close();
      if (sameStore !== store) await sameStore.close();
    }
  });

  it('needs the keys scope besides the admin scope, refuses a tenant-bound admin and any body; nothing happens then', async () => {
    const t = await startAdminBff(await makeStore());
    opened.push(t);
    const frank = await adminLogin(t, 'frank'); // admin scope only
    const erin = await adminLogin(t, 'erin'); // admin and keys scopes, bound to tenant acme
    const alice = await adminLogin(t, 'alice'); // admin and keys scopes, deployment-wide
    const bob = await adminLogin(t, 'bob');

    const noKeys = await revokeAll(t, frank.token);
    expect(noKeys.status).toBe(403);
    expect(noKeys.body).toEqual({ error: 'insufficient_scope', message: 'Revoking every session needs the latchkey:keys scope.' });
    expect(noKeys.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="latchkey:admin latchkey:keys"');
    const bound = await revokeAll(t, erin.token);
    expect(bound.status).toBe(403);
    expect(bound.body).toEqual({
      error: 'insufficient_scope',
      message: 'Every session of every tenant: a tenant-bound admin token cannot revoke them all.',
    });
    const withBody = await revokeAll(t, alice.token, { tenant: 'acme' });
    expect(withBody.status).toBe(400);
    expect(withBody.body.error).toBe('invalid_request');
    // And without the admin scope at all (bob): the guard refuses first.
    expect((await revokeAll(t, bob.token)).status).toBe(403);

    for (const d of [frank, erin, alice, bob]) expect((await me(t.app, d.token)).status).toBe(200);
    expect((await refresh(t.app, bob)).status).toBe(200);
    expect(
      auditLines(t)
        .filter((l) => l.action === 'revoke_all_sessions')
        .map((l) => l.outcome),
    ).toEqual(['insufficient_scope', 'insufficient_scope', 'invalid_request']);
  });

  it('bff.admin.revokeAllSessions() does the same from code', async () => {
    const t = await startAdminBff(await makeStore());
    opened.push(t);
    const bob = await adminLogin(t, 'bob');
    const dave = await adminLogin(t, 'dave');
    expect(await t.bff.admin.revokeAllSessions()).toEqual({ sessionsEnded: 2 });
    for (const d of [bob, dave]) {
      await expect.poll(async () => (await me(t.app, d.token)).status, POLL).toBe(401);
      expect((await refresh(t.app, d)).body.error).toBe('session_revoked');
    }
    expect(t.logLines.some((l) => l.includes('"admin_revoke_all_sessions"'))).toBe(true);
  });
});
