/**
 * The tenant part of the store contract (admin.revokeTenant): the per-tenant `revoked_after` marker and the end of
 * the tenant's device sessions. Run by runStoreContract for every store.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RevocationEvent } from '../../src/store/revocation-feed.js';
import type { DeviceSessionRecord, SessionStore } from '../../src/store/types.js';
import type { TestClock } from '../helpers/test-clock.js';
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

/** The live tenant marker as the log shows it (what guards apply, as of `now`), or null. */
async function tenantRevokedAfter(store: SessionStore, tenant: string, now: number): Promise<number | null> {
  const markers = (await readAll(store)).flatMap((e) => (e.kind === 'tenant' && e.id === tenant && e.expiresAt > now ? [e.revokedAfter] : []));
  return markers.length > 0 ? Math.max(...markers) : null;
}

const sidRevoked = async (store: SessionStore, sid: string, now: number) =>
  (await readAll(store)).some((e) => e.kind === 'sid' && e.id === sid && e.expiresAt > now);

const current = (s: DeviceSessionRecord) => ({ generation: s.generation, credentialHash: s.credentialHash });

function refreshOf(s: DeviceSessionRecord, now: number) {
  const next = token('hash');
  return {
    key: s.key,
    ...current(s),
    nextCredentialHash: next,
    nextSealed: `sealed:${next}`,
    now,
    activityAt: now,
    idleTimeoutMs: MINUTE,
    graceMs: 1000,
    markerTtlMs: MINUTE,
  };
}

export function runTenantContract(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`SessionStore contract, tenants: ${name}`, () => {
    let store: SessionStore;
    let clock: TestClock;
    let expireBy: ((ms: number) => Promise<void>) | undefined;
    let teardown: () => Promise<void>;
    let acme: string;
    let globex: string;
    const session = (userId: string, overrides: Partial<DeviceSessionRecord> = {}) => newSession(userId, overrides, clock.now());

    beforeEach(async () => {
      ({ store, clock, expireBy, teardown } = await setup());
      // Names with what a key layout must survive: braces (Cluster hash tags), spaces, non-ASCII.
      acme = `{acme} Ünïcode ${randomUUID()}`;
      globex = token('globex');
    });
    afterEach(async () => {
      await teardown();
    });

    it('keeps the tenant on the session through getSession, rotate and listUserSessions', async () => {
      const s = session(token('u'), { tenant: acme, claims: { tenant: acme } });
      await store.createSession(s);
      expect(await store.getSession(s.key, clock.now())).toEqual(s);
      expect(await store.listUserSessions(s.userId, clock.now())).toEqual([s]);
      const rotated = await store.rotate(refreshOf(s, clock.now()));
      expect(rotated.outcome === 'rotated' && rotated.session.tenant).toBe(acme);
    });

    it('revokeTenant ends every live session of the tenant across users, marks each sid, sets the marker; nothing else', async () => {
      const now = clock.now();
      const [u1, u2, u3] = [token('u1'), token('u2'), token('u3')];
      const a1 = session(u1, { tenant: acme, createdAt: now - 3000 });
      const a2 = session(u1, { tenant: acme, createdAt: now - 2000 });
      const a3 = session(u2, { tenant: acme, createdAt: now - 1000 });
      const other = session(u2, { tenant: globex });
      const none = session(u3);
      const loggedOut = session(u3, { tenant: acme });
      for (const s of [a1, a2, a3, other, none, loggedOut]) await store.createSession(s);
      await store.endSession(loggedOut.key, 'logout', now, MINUTE);

      expect(await store.revokeTenant(acme, now, now, MINUTE)).toEqual([a1, a2, a3]);

      for (const s of [a1, a2, a3]) {
        expect(await store.getSession(s.key, clock.now())).toBeNull();
        expect(await store.rotate(refreshOf(s, clock.now()))).toEqual({ outcome: 'ended', reason: 'tenant_revoked' });
        expect(await sidRevoked(store, s.sid, clock.now())).toBe(true);
      }
      expect(await store.rotate(refreshOf(loggedOut, clock.now()))).toEqual({ outcome: 'ended', reason: 'logout' });
      for (const s of [other, none]) {
        expect(await store.getSession(s.key, clock.now())).toEqual(s);
        expect(await sidRevoked(store, s.sid, clock.now())).toBe(false);
      }
      expect(await tenantRevokedAfter(store, acme, clock.now())).toBe(now);
      expect(await tenantRevokedAfter(store, globex, clock.now())).toBeNull();
      const marker = (await readAll(store)).find((e) => e.kind === 'tenant');
      expect(marker).toMatchObject({ kind: 'tenant', id: acme, revokedAfter: now });
      expect(marker!.expiresAt).toBeGreaterThan(clock.now() + MINUTE / 2);

      // The index forgot them: a second revocation ends nothing; a session started afterwards is the tenant's again.
      expect(await store.revokeTenant(acme, now + 1, now + 1, MINUTE)).toEqual([]);
      const later = session(u1, { tenant: acme });
      await store.createSession(later);
      expect(await store.getSession(later.key, clock.now())).toEqual(later);
      expect(await store.revokeTenant(acme, clock.now(), clock.now(), MINUTE)).toEqual([later]);
    });

    it('never moves the tenant revoked_after backwards, but forwards', async () => {
      const now = clock.now();
      await store.revokeTenant(acme, now, now, MINUTE);
      await store.revokeTenant(acme, now - 5000, now, MINUTE);
      expect(await tenantRevokedAfter(store, acme, clock.now())).toBe(now);
      await store.revokeTenant(acme, now + 5000, now, MINUTE);
      expect(await tenantRevokedAfter(store, acme, clock.now())).toBe(now + 5000);
    });

    it('forgets the tenant marker after its TTL', async () => {
      const ttl = 5_000;
      await store.revokeTenant(acme, clock.now(), clock.now(), ttl);
      expect(await tenantRevokedAfter(store, acme, clock.now())).not.toBeNull();
      clock.advance(2 * ttl);
      await expireBy?.(2 * ttl);
      expect(await tenantRevokedAfter(store, acme, clock.now())).toBeNull();
    });

    it('ignores a non-positive TTL (no marker that never expires), but still ends the sessions', async () => {
      const s = session(token('u'), { tenant: acme });
      await store.createSession(s);
      expect(await store.revokeTenant(acme, clock.now(), clock.now(), 0)).toEqual([s]);
      expect((await readAll(store)).filter((e) => e.kind === 'tenant')).toEqual([]);
    });
  });
}
