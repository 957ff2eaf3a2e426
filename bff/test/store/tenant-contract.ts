/**
 * The tenant part of the store contract (admin.revokeTenant): the per-tenant `revoked_after` marker and the end of
 * the tenant's device sessions. Run by runStoreContract for every store.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RevocationEvent } from '../../src/store/revocation-feed.js';
import type { DeviceSessionRecord, SessionStore } from '../../src/store/types.js';
import { newSession, type StoreFixture } from './contract.js';

const MINUTE = 60_000;
const token = (label: string) => `${label}-${randomUUID()}`;

async function readAll(store: SessionStore): Promise<RevocationEvent[]> {
  const events: RevocationEvent[] = [];
  let position: string | null = null;
  for (;;) {
    const batch = await store.readRevocations(position, { blockMs: 0, count: 1000 });
    events.push(...batch.events);
    position = batch.position;
    if (batch.events.length < 1000) return events;
  }
}

/** The live tenant marker as the log shows it (what guards apply), or null. */
async function tenantRevokedAfter(store: SessionStore, tenant: string): Promise<number | null> {
  const now = Date.now();
  const markers = (await readAll(store)).flatMap((e) => (e.kind === 'tenant' && e.id === tenant && e.expiresAt > now ? [e.revokedAfter] : []));
  return markers.length > 0 ? Math.max(...markers) : null;
}

const sidRevoked = async (store: SessionStore, sid: string) =>
  (await readAll(store)).some((e) => e.kind === 'sid' && e.id === sid && e.expiresAt > Date.now());

const current = (s: DeviceSessionRecord) => ({ generation: s.generation, credentialHash: s.credentialHash });

function refreshOf(s: DeviceSessionRecord) {
  const next = token('hash');
  return { key: s.key, ...current(s), nextCredentialHash: next, nextSealed: `sealed:${next}`, now: Date.now(), idleTimeoutMs: MINUTE, graceMs: 1000, markerTtlMs: MINUTE };
}

export function runTenantContract(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`SessionStore contract, tenants: ${name}`, () => {
    let store: SessionStore;
    let teardown: () => Promise<void>;
    let acme: string;
    let globex: string;

    beforeEach(async () => {
      ({ store, teardown } = await setup());
      // Names with what a key layout must survive: braces (Cluster hash tags), spaces, non-ASCII.
      acme = `{acme} Ünïcode ${randomUUID()}`;
      globex = token('globex');
    });
    afterEach(async () => {
      await teardown();
    });

    it('keeps the tenant on the session through getSession, rotate and listUserSessions', async () => {
      const s = newSession(token('u'), { tenant: acme, claims: { tenant: acme } });
      await store.createSession(s);
      expect(await store.getSession(s.key, Date.now())).toEqual(s);
      expect(await store.listUserSessions(s.userId, Date.now())).toEqual([s]);
      const rotated = await store.rotate(refreshOf(s));
      expect(rotated.outcome === 'rotated' && rotated.session.tenant).toBe(acme);
    });

    it('revokeTenant ends every live session of the tenant across users, marks each sid, sets the marker; nothing else', async () => {
      const now = Date.now();
      const [u1, u2, u3] = [token('u1'), token('u2'), token('u3')];
      const a1 = newSession(u1, { tenant: acme, createdAt: now - 3000 });
      const a2 = newSession(u1, { tenant: acme, createdAt: now - 2000 });
      const a3 = newSession(u2, { tenant: acme, createdAt: now - 1000 });
      const other = newSession(u2, { tenant: globex });
      const none = newSession(u3);
      const loggedOut = newSession(u3, { tenant: acme });
      for (const s of [a1, a2, a3, other, none, loggedOut]) await store.createSession(s);
      await store.endSession(loggedOut.key, 'logout', now, MINUTE);

      expect(await store.revokeTenant(acme, now, now, MINUTE)).toEqual([a1, a2, a3]);

      for (const s of [a1, a2, a3]) {
        expect(await store.getSession(s.key, Date.now())).toBeNull();
        expect(await store.rotate(refreshOf(s))).toEqual({ outcome: 'ended', reason: 'session_revoked' });
        expect(await sidRevoked(store, s.sid)).toBe(true);
      }
      expect(await store.rotate(refreshOf(loggedOut))).toEqual({ outcome: 'ended', reason: 'logout' });
      for (const s of [other, none]) {
        expect(await store.getSession(s.key, Date.now())).toEqual(s);
        expect(await sidRevoked(store, s.sid)).toBe(false);
      }
      expect(await tenantRevokedAfter(store, acme)).toBe(now);
      expect(await tenantRevokedAfter(store, globex)).toBeNull();
      const marker = (await readAll(store)).find((e) => e.kind === 'tenant');
      expect(marker).toMatchObject({ kind: 'tenant', id: acme, revokedAfter: now });
      expect(marker!.expiresAt).toBeGreaterThan(Date.now() + MINUTE / 2);

      // The index forgot them: a second revocation ends nothing; a session started afterwards is the tenant's again.
      expect(await store.revokeTenant(acme, now + 1, now + 1, MINUTE)).toEqual([]);
      const later = newSession(u1, { tenant: acme });
      await store.createSession(later);
      expect(await store.getSession(later.key, Date.now())).toEqual(later);
      expect(await store.revokeTenant(acme, Date.now(), Date.now(), MINUTE)).toEqual([later]);
    });

    it('never moves the tenant revoked_after backwards, but forwards', async () => {
      const now = Date.now();
      await store.revokeTenant(acme, now, now, MINUTE);
      await store.revokeTenant(acme, now - 5000, now, MINUTE);
      expect(await tenantRevokedAfter(store, acme)).toBe(now);
      await store.revokeTenant(acme, now + 5000, now, MINUTE);
      expect(await tenantRevokedAfter(store, acme)).toBe(now + 5000);
    });

    it('forgets the tenant marker after its TTL', async () => {
      // Long enough for the revocation's one script per shard (16 on a Cluster) on a busy machine.
      const ttl = 2000;
      await store.revokeTenant(acme, Date.now(), Date.now(), ttl);
      expect(await tenantRevokedAfter(store, acme)).not.toBeNull();
      await expect.poll(() => tenantRevokedAfter(store, acme), { timeout: 3 * ttl, interval: 50 }).toBeNull();
    });

    it('ignores a non-positive TTL (no marker that never expires), but still ends the sessions', async () => {
      const s = newSession(token('u'), { tenant: acme });
      await store.createSession(s);
      expect(await store.revokeTenant(acme, Date.now(), Date.now(), 0)).toEqual([s]);
      expect((await readAll(store)).filter((e) => e.kind === 'tenant')).toEqual([]);
    });
  });
}
