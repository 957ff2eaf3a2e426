/**
 * The store contract for ending many sessions at once: logout-others (endOtherUserSessions) and the incident-response
 * revokeAllSessions (a global `revoked_after`, every session of every user ended). Run by runStoreContract for every
 * store (memory, Redis single node, Redis with shards, Redis Cluster).
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RevocationEvent } from '../../src/store/revocation-feed.js';
import type { DeviceSessionRecord, SessionStore } from '../../src/store/types.js';
import type { TestClock } from '../helpers/test-clock.js';
import { newSession, type StoreFixture } from './contract.js';

const MINUTE = 60_000;
const SHORT_TTL = 5_000;
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

/** The live global marker as the log shows it (what guards apply, as of `now`), or null. */
async function globalRevokedAfter(store: SessionStore, now: number): Promise<number | null> {
  const markers = (await readAll(store)).flatMap((e) => (e.kind === 'all' && e.expiresAt > now ? [e.revokedAfter] : []));
  return markers.length > 0 ? Math.max(...markers) : null;
}

const revokedSids = async (store: SessionStore, now: number) =>
  new Set((await readAll(store)).flatMap((e) => (e.kind === 'sid' && e.expiresAt > now ? [e.id] : [])));

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

export function runEndingContract(name: string, setup: () => Promise<StoreFixture>): void {
  describe(`SessionStore contract, ending many sessions: ${name}`, () => {
    let store: SessionStore;
    let clock: TestClock;
    let expireBy: ((ms: number) => Promise<void>) | undefined;
    let teardown: () => Promise<void>;
    let alice: string;
    let bob: string;
    const session = (userId: string, overrides: Partial<DeviceSessionRecord> = {}) => newSession(userId, overrides, clock.now());

    beforeEach(async () => {
      ({ store, clock, expireBy, teardown } = await setup());
      alice = token('alice');
      bob = token('bob');
    });
    afterEach(async () => {
      await teardown();
    });

    describe('endOtherUserSessions (logout-others)', () => {
      it('ends every other session of the user with its sid event, keeps the caller’s, and leaves other users and revoked_after alone', async () => {
        const now = clock.now();
        const mine = session(alice, { createdAt: now - 3000 });
        const laptop = session(alice, { createdAt: now - 2000 });
        const phone = session(alice, { createdAt: now - 1000 });
        const bobs = session(bob);
        for (const s of [mine, laptop, phone, bobs]) await store.createSession(s);

        expect(await store.endOtherUserSessions(alice, mine.key, now, MINUTE)).toEqual([laptop, phone]);

        expect(await store.listUserSessions(alice, now)).toEqual([mine]);
        expect(await store.listUserSessions(bob, now)).toEqual([bobs]);
        for (const s of [laptop, phone]) expect(await store.rotate(refreshOf(s, now))).toEqual({ outcome: 'ended', reason: 'logout_others' });
        expect(await store.rotate(refreshOf(mine, now))).toMatchObject({ outcome: 'rotated' });
        const sids = await revokedSids(store, clock.now());
        expect([laptop, phone, mine, bobs].map((s) => sids.has(s.sid))).toEqual([true, true, false, false]);
        const events = await readAll(store);
        // One event per ended session, in whatever order the store walked them.
        const sidEvents = events.filter((e) => e.kind === 'sid');
        expect(sidEvents).toHaveLength(2);
        expect(sidEvents).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ id: laptop.sid, userId: alice, reason: 'logout_others' }),
            expect.objectContaining({ id: phone.sid, userId: alice, reason: 'logout_others' }),
          ]),
        );
        // The caller's tokens stay valid: no user (or global) marker.
        expect(events.some((e) => e.kind === 'user' || e.kind === 'all')).toBe(false);
      });

      it('answers null and changes nothing when the kept session is not a live session of the user', async () => {
        const now = clock.now();
        const mine = session(alice);
        const other = session(alice);
        const bobs = session(bob);
        for (const s of [mine, other, bobs]) await store.createSession(s);

        // Another user's session as the one to keep: nothing of either user ends.
        expect(await store.endOtherUserSessions(alice, bobs.key, now, MINUTE)).toBeNull();
        expect(await store.endOtherUserSessions(bob, mine.key, now, MINUTE)).toBeNull();
        // A key that was never a session.
        expect(await store.endOtherUserSessions(alice, session(alice).key, now, MINUTE)).toBeNull();
        // The caller's session ended meanwhile.
        await store.endSession(mine.key, 'logout', now, MINUTE);
        expect(await store.endOtherUserSessions(alice, mine.key, now, MINUTE)).toBeNull();

        expect(await store.listUserSessions(alice, now)).toEqual([other]);
        expect(await store.listUserSessions(bob, now)).toEqual([bobs]);
        expect((await readAll(store)).filter((e) => e.kind === 'sid').map((e) => e.id)).toEqual([mine.sid]);
      });

      it('with no other session, ends nothing and writes no event', async () => {
        const mine = session(alice);
        await store.createSession(mine);
        expect(await store.endOtherUserSessions(alice, mine.key, clock.now(), MINUTE)).toEqual([]);
        expect(await readAll(store)).toEqual([]);
      });
    });

    describe('revokeAllSessions (incident response)', () => {
      it('raises the global revoked_after with its event, ends every live session of every user, and a later login lives', async () => {
        const now = clock.now();
        const sessions = [session(alice), session(alice), session(bob), session(token('carol'), { tenant: 'acme' })];
        for (const s of sessions) await store.createSession(s);
        const expired = session(token('dave'), { idleExpiresAt: now + 1000 });
        await store.createSession(expired);

        expect(await store.revokeAllSessions(now, now + 2000, MINUTE)).toBe(4);

        expect(await globalRevokedAfter(store, clock.now())).toBe(now);
        const sids = await revokedSids(store, clock.now());
        for (const s of sessions) {
          expect(sids.has(s.sid)).toBe(true);
          expect(await store.getSession(s.key, now)).toBeNull();
          expect(await store.rotate(refreshOf(s, now))).toEqual({ outcome: 'ended', reason: 'all_revoked' });
        }
        expect(await store.listUserSessions(alice, now)).toEqual([]);
        // The expired one ended as expired, not counted and not marked.
        expect(sids.has(expired.sid)).toBe(false);

        const later = session(alice);
        await store.createSession(later);
        expect(await store.listUserSessions(alice, now)).toEqual([later]);
        expect(await store.rotate(refreshOf(later, now))).toMatchObject({ outcome: 'rotated' });
        // A second revocation reaches the new session too.
        expect(await store.revokeAllSessions(now + 1, now, MINUTE)).toBe(1);
        expect(await store.listUserSessions(alice, now)).toEqual([]);
      });

      it('ends more sessions than one batch holds, across many users', async () => {
        const now = clock.now();
        const users = Array.from({ length: 60 }, () => token('user'));
        const all = users.flatMap((u) => Array.from({ length: 20 }, () => session(u)));
        for (let i = 0; i < all.length; i += 100) await Promise.all(all.slice(i, i + 100).map((s) => store.createSession(s)));

        expect(await store.revokeAllSessions(now, now, MINUTE)).toBe(1200);

        for (const u of users) expect(await store.listUserSessions(u, now)).toEqual([]);
        expect((await revokedSids(store, clock.now())).size).toBe(1200);
        expect(await store.revokeAllSessions(now, now, MINUTE)).toBe(0);
      });

      it('never moves the global revoked_after backwards, and the marker expires after its TTL', async () => {
        const now = clock.now();
        await store.revokeAllSessions(now, now, SHORT_TTL);
        await store.revokeAllSessions(now - 5000, now, SHORT_TTL);
        expect(await globalRevokedAfter(store, clock.now())).toBe(now);
        await store.revokeAllSessions(now + 500, now, SHORT_TTL);
        expect(await globalRevokedAfter(store, clock.now())).toBe(now + 500);

        clock.advance(2 * SHORT_TTL);
        await expireBy?.(2 * SHORT_TTL);
        expect(await globalRevokedAfter(store, clock.now())).toBeNull();
      });

      it('a session created concurrently is either ended or left untouched, never half', async () => {
        for (let round = 0; round < 6; round++) {
          const user = token('racer');
          const existing = session(user, { createdAt: clock.now() - 1000 });
          await store.createSession(existing);
          const racing = session(user);
          const now = clock.now();
          const [, ended] = await Promise.all([store.createSession(racing), store.revokeAllSessions(now, now, MINUTE)]);

          expect(await store.rotate(refreshOf(existing, now))).toEqual({ outcome: 'ended', reason: 'all_revoked' });
          const live = await store.listUserSessions(user, now);
          if (ended === 2) {
            expect(live).toEqual([]);
            expect(await store.rotate(refreshOf(racing, now))).toEqual({ outcome: 'ended', reason: 'all_revoked' });
          } else {
            expect(ended).toBe(1);
            expect(live).toEqual([racing]);
            expect((await revokedSids(store, clock.now())).has(racing.sid)).toBe(false);
          }
        }
      });
    });
  });
}
