/**
 * The one behaviour suite every SessionStore runs (memory and Redis). Times are epoch milliseconds on the
 * fixture's clock: records are built around `clock.now()`, and tests let time pass with `advance(ms)` instead of
 * sleeping (the MemoryStore decides expiry on that clock; for Redis the fixture also shortens key TTLs, see
 * expireRedisKeysBy and docs/time.md).
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { credentialStanding } from '../../src/session/credential-rule.js';
import type { RevocationEvent } from '../../src/store/revocation-feed.js';
import { newSessionKey } from '../../src/store/session-key.js';
import type { DeviceSessionRecord, IdpLink, IdpRenewalClaimInput, RotateInput, SessionStore } from '../../src/store/types.js';
import type { TestClock } from '../helpers/test-clock.js';
import { runEndingContract } from './ending-contract.js';
import { runTenantContract } from './tenant-contract.js';

/** What the log says about one token right now: the facts a guard's local view derives from it. */
export async function revocationState(store: SessionStore, jti: string, sid: string, userId: string, now = Date.now()) {
  const events: RevocationEvent[] = [];
  let position: string | null = null;
  for (;;) {
    const batch = await store.readRevocations(position, { blockMs: 0, count: 1000 });
    events.push(...batch.events);
    position = batch.position;
    if (batch.events.length < 1000) break;
  }
  const live = events.filter((e) => e.expiresAt > now);
  const users = live.flatMap((e) => (e.kind === 'user' && e.id === userId ? [e.revokedAfter] : []));
  return {
    jtiRevoked: live.some((e) => e.kind === 'jti' && e.id === jti),
    sidRevoked: live.some((e) => e.kind === 'sid' && e.id === sid),
    userRevokedAfter: users.length > 0 ? Math.max(...users) : null,
    keyRingVersion: events.filter((e) => e.kind === 'keyring').at(-1)?.id ?? null,
  };
}

export interface StoreFixture {
  store: SessionStore;
  /** The clock the tests stamp records with and move: the MemoryStore's own; beside Redis, a running one. */
  clock: TestClock;
  /** What else letting `ms` pass takes for this backend (Redis: shortening key TTLs); nothing for memory. */
  expireBy?(ms: number): Promise<void>;
  teardown(): Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/**
 * Short TTL for the expiry tests, and how far to advance the clock past it. Advancing costs nothing, so the TTL
 * can be long enough that nothing expires in real time while a test runs (Redis's clock keeps running).
 */
const SHORT_TTL = 5_000;
const PAST_SHORT_TTL = 10_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const token = (label: string) => `${label}-${randomUUID()}`;

/** A fresh generation-0 session for `userId`, valid for an hour of idle time and a day in total. */
export function newSession(userId: string, overrides: Partial<DeviceSessionRecord> = {}, now = Date.now()): DeviceSessionRecord {
  return {
    key: newSessionKey(userId),
    sid: token('sid'),
    userId,
    userName: `${userId} name`,
    deviceName: 'Firefox on Linux',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0',
    createdAt: now,
    rotatedAt: now,
    lastActivityAt: now,
    idleExpiresAt: now + HOUR,
    absoluteExpiresAt: now + 24 * HOUR,
    generation: 0,
    credentialHash: token('hash0'),
    previousHash: null,
    successorSealed: null,
    graceUntil: 0,
    ...overrides,
  };
}

/** A refresh presenting `generation`/`credentialHash`, with a random successor and generous windows. */
function refresh(
  session: DeviceSessionRecord,
  presented: { generation: number; credentialHash: string },
  overrides: Partial<RotateInput> = {},
  now = Date.now(),
): RotateInput {
  const nextCredentialHash = token('hash');
  return {
    key: session.key,
    generation: presented.generation,
    credentialHash: presented.credentialHash,
    nextCredentialHash,
    nextSealed: `sealed:${nextCredentialHash}`,
    now,
    // Used now, unless a test says otherwise (an idle page's refresh reports older activity).
    activityAt: overrides.now ?? now,
    idleTimeoutMs: HOUR,
    graceMs: MINUTE,
    markerTtlMs: 10 * MINUTE,
    ...overrides,
  };
}

const current = (session: DeviceSessionRecord) => ({ generation: session.generation, credentialHash: session.credentialHash });

export function runStoreContract(name: string, setup: () => Promise<StoreFixture>): void {
  runTenantContract(name, setup);
  runEndingContract(name, setup);
  describe(`SessionStore contract: ${name}`, () => {
    let store: SessionStore;
    let clock: TestClock;
    let expireBy: ((ms: number) => Promise<void>) | undefined;
    let teardown: () => Promise<void>;
    /** Every test works on its own users, so leftovers never leak between tests. */
    let alice: string;
    let bob: string;

    beforeEach(async () => {
      ({ store, clock, expireBy, teardown } = await setup());
      alice = token('alice');
      bob = token('bob');
    });

    afterEach(async () => {
      await teardown();
    });

    /** A fresh session, and a refresh of it, stamped with the fixture's clock. */
    const newSessionNow = (userId: string, overrides: Partial<DeviceSessionRecord> = {}) => newSession(userId, overrides, clock.now());
    const refreshNow = (session: DeviceSessionRecord, presented: { generation: number; credentialHash: string }, overrides: Partial<RotateInput> = {}) =>
      refresh(session, presented, overrides, clock.now());

    /** Lets `ms` pass for the store: the clock moves, and the backend's TTLs with it. */
    async function advance(ms: number): Promise<void> {
      clock.advance(ms);
      await expireBy?.(ms);
    }

    /** Creates a session and rotates it once, so it has a previous credential and a successor. */
    async function rotatedOnce(overrides: Partial<DeviceSessionRecord> = {}) {
      const session = newSessionNow(alice, overrides);
      await store.createSession(session);
      const input = refreshNow(session, current(session));
      const result = await store.rotate(input);
      if (result.outcome !== 'rotated') throw new Error(`setup rotation answered ${result.outcome}`);
      return { original: session, input, rotated: result.session };
    }

    describe('sessions', () => {
      it('stores a session and returns it unchanged', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);
        expect(await store.getSession(session.key, clock.now())).toEqual(session);
      });

      it('answers null for an unknown key', async () => {
        expect(await store.getSession(token('nope'), clock.now())).toBeNull();
        expect(await store.getSession(newSessionKey(alice), clock.now())).toBeNull();
      });

      it('refuses a session whose key was not made for its user, and stores nothing', async () => {
        const foreign = newSessionNow(alice, { key: newSessionKey(bob) });
        await expect(store.createSession(foreign)).rejects.toThrow(/newSessionKey/);
        await expect(store.createSession(newSessionNow(alice, { key: token('free-form') }))).rejects.toThrow(/newSessionKey/);
        expect(await store.getSession(foreign.key, clock.now())).toBeNull();
        expect(await store.listUserSessions(alice, clock.now())).toEqual([]);
      });

      it('keeps a rotated-once session with its nullable fields filled', async () => {
        const { rotated } = await rotatedOnce();
        expect(await store.getSession(rotated.key, clock.now())).toEqual(rotated);
      });

      it('keeps the granted claims (JSON values) through getSession, rotate and listUserSessions', async () => {
        const claims = { tenant: 'acme', roles: ['editor', 'viewer'], limits: { daily: 5, note: null }, beta: true, scope: 'read:feed admin' };
        const session = newSessionNow(alice, { claims });
        await store.createSession(session);
        expect(await store.getSession(session.key, clock.now())).toEqual(session);
        const rotated = await store.rotate(refreshNow(session, current(session)));
        expect(rotated).toMatchObject({ outcome: 'rotated', session: { claims } });
        expect((await store.listUserSessions(alice, clock.now()))[0]?.claims).toEqual(claims);
        const plain = newSessionNow(bob);
        await store.createSession(plain);
        expect(await store.getSession(plain.key, clock.now())).not.toHaveProperty('claims');
      });

      it('returns copies: mutating a returned record does not change the store', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);
        const read = await store.getSession(session.key, clock.now());
        read!.credentialHash = 'tampered';
        session.credentialHash = 'tampered-too';
        expect((await store.getSession(read!.key, clock.now()))?.credentialHash).not.toMatch(/tampered/);
      });

      it('treats a session as ended at its idle end and at its absolute end, whichever comes first', async () => {
        const now = clock.now();
        const idle = newSessionNow(alice, { idleExpiresAt: now + MINUTE, absoluteExpiresAt: now + HOUR });
        const absolute = newSessionNow(alice, { idleExpiresAt: now + HOUR, absoluteExpiresAt: now + 2 * MINUTE });
        await store.createSession(idle);
        await store.createSession(absolute);

        expect(await store.getSession(idle.key, now + MINUTE - 1)).toEqual(idle);
        expect(await store.getSession(idle.key, now + MINUTE)).toBeNull();
        expect(await store.getSession(absolute.key, now + 2 * MINUTE - 1)).toEqual(absolute);
        expect(await store.getSession(absolute.key, now + 2 * MINUTE)).toBeNull();
      });

      it('keeps activity from pushing the idle end past the absolute end', async () => {
        const now = clock.now();
        const session = newSessionNow(alice, { idleExpiresAt: now + MINUTE, absoluteExpiresAt: now + 5 * MINUTE });
        await store.createSession(session);

        // Each refresh moves the idle end forward by idleTimeoutMs…
        const first = await store.rotate(refreshNow(session, current(session), { now: now + 30_000, idleTimeoutMs: 2 * MINUTE }));
        expect(first).toMatchObject({ outcome: 'rotated', session: { idleExpiresAt: now + 30_000 + 2 * MINUTE } });
        const afterFirst = (first as { session: DeviceSessionRecord }).session;

        // …but never past the absolute end…
        const second = await store.rotate(refreshNow(afterFirst, current(afterFirst), { now: now + 2 * MINUTE, idleTimeoutMs: 4 * MINUTE }));
        expect(second).toMatchObject({ outcome: 'rotated', session: { idleExpiresAt: now + 5 * MINUTE } });
        const afterSecond = (second as { session: DeviceSessionRecord }).session;

        // …so an active session still ends there.
        expect(await store.getSession(session.key, now + 5 * MINUTE)).toBeNull();
        expect(await store.rotate(refreshNow(afterSecond, current(afterSecond), { now: now + 5 * MINUTE }))).toEqual({
          outcome: 'expired',
          reason: 'absolute',
          session: afterSecond,
        });
      });
    });

    describe('rotate', () => {
      it('rotated: the current credential moves the session to the caller’s successor', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);
        const input = refreshNow(session, current(session), { now: session.createdAt + 1000, idleTimeoutMs: HOUR, graceMs: 30_000 });

        const result = await store.rotate(input);

        const expected: DeviceSessionRecord = {
          ...session,
          generation: 1,
          credentialHash: input.nextCredentialHash,
          previousHash: session.credentialHash,
          successorSealed: input.nextSealed,
          graceUntil: input.now + 30_000,
          rotatedAt: input.now,
          lastActivityAt: input.now,
          idleExpiresAt: input.now + HOUR,
        };
        expect(result).toEqual({ outcome: 'rotated', session: expected });
        expect(await store.getSession(session.key, input.now)).toEqual(expected);
      });

      it('replayed: the previous credential within grace gets the same successor and changes nothing', async () => {
        const { original, input, rotated } = await rotatedOnce();

        const result = await store.rotate(refreshNow(original, current(original), { now: input.now + 1000 }));

        expect(result).toEqual({ outcome: 'replayed', session: rotated, sealed: input.nextSealed });
        expect(await store.getSession(original.key, input.now + 1000)).toEqual(rotated);
      });

      it('reuse_detected: the previous credential after grace ends the session and revokes its sid', async () => {
        const { original, input, rotated } = await rotatedOnce();
        // The window runs from the rotation: at least `now + graceMs` (Redis counts from when its script really ran).
        expect(rotated.graceUntil).toBeGreaterThanOrEqual(input.now + input.graceMs);
        const afterGrace = rotated.graceUntil;

        const result = await store.rotate(refreshNow(original, current(original), { now: afterGrace }));

        expect(result).toEqual({ outcome: 'reuse_detected', session: rotated });
        expect(await store.getSession(original.key, afterGrace)).toBeNull();
        expect(await store.listUserSessions(alice, afterGrace)).toEqual([]);
        expect(await revocationState(store, token('jti'), original.sid, alice, clock.now())).toMatchObject({ sidRevoked: true });
        expect(await store.rotate(refreshNow(rotated, current(rotated), { now: afterGrace }))).toEqual({
          outcome: 'ended',
          reason: 'reuse_detected',
        });
      });

      it('reuse_detected: a credential two generations old ends the session even within grace', async () => {
        const { original, input, rotated } = await rotatedOnce();
        const second = await store.rotate(refreshNow(rotated, current(rotated), { now: input.now + 1 }));
        expect(second.outcome).toBe('rotated');
        const latest = (second as { session: DeviceSessionRecord }).session;

        // Any hash at generation 0 counts: the store no longer knows which one it issued.
        const result = await store.rotate(refreshNow(original, { generation: 0, credentialHash: token('whatever') }, { now: input.now + 2 }));

        expect(result).toEqual({ outcome: 'reuse_detected', session: latest });
        expect(await store.getSession(original.key, input.now + 2)).toBeNull();
        expect(await revocationState(store, token('jti'), original.sid, alice, clock.now())).toMatchObject({ sidRevoked: true });
      });

      it('mismatch: the current generation with another secret changes nothing', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);

        const result = await store.rotate(refreshNow(session, { generation: 0, credentialHash: token('forged') }));

        expect(result).toEqual({ outcome: 'mismatch' });
        expect(await store.getSession(session.key, clock.now())).toEqual(session);
        expect(await revocationState(store, token('jti'), session.sid, alice, clock.now())).toMatchObject({ sidRevoked: false });
      });

      it('mismatch: a generation from the future changes nothing', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);

        const result = await store.rotate(refreshNow(session, { generation: 1, credentialHash: session.credentialHash }));

        expect(result).toEqual({ outcome: 'mismatch' });
        expect(await store.getSession(session.key, clock.now())).toEqual(session);
      });

      it('mismatch: the previous generation with a secret this session never issued changes nothing', async () => {
        const { original, input, rotated } = await rotatedOnce();

        const result = await store.rotate(refreshNow(original, { generation: 0, credentialHash: token('forged') }, { now: input.now + 1 }));

        expect(result).toEqual({ outcome: 'mismatch' });
        expect(await store.getSession(original.key, input.now + 1)).toEqual(rotated);
      });

      it('ended: null for a key that never existed', async () => {
        const session = newSessionNow(alice);
        expect(await store.rotate(refreshNow(session, current(session)))).toEqual({ outcome: 'ended', reason: null });
      });

      it('the idle end follows the reported activity, not the rotations: a timer refreshing an unused page still idles out', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);
        const t0 = session.createdAt;
        // Refreshed every 20 minutes by a timer, the page unused since the login: the activity stays at t0.
        let held = session;
        for (const at of [t0 + 20 * MINUTE, t0 + 40 * MINUTE]) {
          const result = await store.rotate(refreshNow(held, current(held), { now: at, activityAt: t0 }));
          expect(result).toMatchObject({ outcome: 'rotated', session: { rotatedAt: at, lastActivityAt: t0, idleExpiresAt: t0 + HOUR } });
          held = (result as { session: DeviceSessionRecord }).session;
        }
        expect(await store.getSession(session.key, t0 + HOUR - 1)).toEqual(held);
        expect(await store.getSession(session.key, t0 + HOUR)).toBeNull();
        expect(await store.rotate(refreshNow(held, current(held), { now: t0 + HOUR, activityAt: t0 }))).toEqual({
          outcome: 'expired',
          reason: 'idle',
          session: held,
        });
        expect(await revocationState(store, token('jti'), session.sid, alice, clock.now())).toMatchObject({ sidRevoked: true });
      });

      it('activity never moves backwards nor past now, and reported use keeps the session alive', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);
        const t0 = session.createdAt;
        const used = await store.rotate(refreshNow(session, current(session), { now: t0 + 50 * MINUTE, activityAt: t0 + 45 * MINUTE }));
        expect(used).toMatchObject({ outcome: 'rotated', session: { lastActivityAt: t0 + 45 * MINUTE, idleExpiresAt: t0 + 45 * MINUTE + HOUR } });
        const afterUse = (used as { session: DeviceSessionRecord }).session;
        // An older report (another tab that saw less) keeps the later activity.
        const older = await store.rotate(refreshNow(afterUse, current(afterUse), { now: t0 + 60 * MINUTE, activityAt: t0 + 10 * MINUTE }));
        expect(older).toMatchObject({ outcome: 'rotated', session: { lastActivityAt: t0 + 45 * MINUTE } });
        const afterOlder = (older as { session: DeviceSessionRecord }).session;
        // A report from the future is now.
        const future = await store.rotate(refreshNow(afterOlder, current(afterOlder), { now: t0 + 61 * MINUTE, activityAt: t0 + 5 * HOUR }));
        expect(future).toMatchObject({ outcome: 'rotated', session: { lastActivityAt: t0 + 61 * MINUTE, idleExpiresAt: t0 + 61 * MINUTE + HOUR } });
      });

      it('expired: once idle the rotation ends the session (sid revoked, its event), and the reason is remembered', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);
        const idle = refreshNow(session, current(session), { now: session.idleExpiresAt });

        expect(await store.rotate(idle)).toEqual({ outcome: 'expired', reason: 'idle', session });
        expect(await store.getSession(session.key, session.createdAt)).toBeNull();
        expect(await store.listUserSessions(alice, session.createdAt)).toEqual([]);
        expect(await revocationState(store, token('jti'), session.sid, alice, clock.now())).toMatchObject({ sidRevoked: true });
        expect(await store.rotate(refreshNow(session, current(session), { now: session.createdAt }))).toEqual({ outcome: 'ended', reason: 'idle' });
      });

      it('ended: remembers logout and device_revoked', async () => {
        const loggedOut = newSessionNow(alice);
        const revoked = newSessionNow(alice);
        await store.createSession(loggedOut);
        await store.createSession(revoked);
        await store.endSession(loggedOut.key, 'logout', clock.now(), MINUTE);
        await store.endUserSessionBySid(alice, revoked.sid, 'device_revoked', clock.now(), MINUTE);

        expect(await store.rotate(refreshNow(loggedOut, current(loggedOut)))).toEqual({ outcome: 'ended', reason: 'logout' });
        expect(await store.rotate(refreshNow(revoked, current(revoked)))).toEqual({ outcome: 'ended', reason: 'device_revoked' });
      });

      it('50 concurrent refreshes with the current credential: one rotates, 49 replay its successor', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);
        const inputs = Array.from({ length: 50 }, () => refreshNow(session, current(session)));

        const results = await Promise.all(inputs.map((input) => store.rotate(input)));

        const rotated = results.filter((r) => r.outcome === 'rotated');
        const replayed = results.filter((r) => r.outcome === 'replayed');
        expect(rotated).toHaveLength(1);
        expect(replayed).toHaveLength(49);
        const winner = inputs[results.findIndex((r) => r.outcome === 'rotated')]!;
        for (const replay of replayed) expect(replay).toMatchObject({ sealed: winner.nextSealed, session: { generation: 1 } });
        expect(await store.getSession(session.key, clock.now())).toMatchObject({
          generation: 1,
          credentialHash: winner.nextCredentialHash,
          successorSealed: winner.nextSealed,
        });
      });

      it('applies the one credential rule (session/credential-rule.ts) to every presented credential', async () => {
        const expected = { current: 'rotated', previous: 'replayed', superseded: 'reuse_detected', mismatch: 'mismatch' } as const;
        const cases = [0, 1, 2, 3].flatMap((generation) =>
          [true, false].flatMap((issuedHash) => [false, true].map((afterGrace) => ({ generation, issuedHash, afterGrace }))),
        );
        for (const { generation, issuedHash, afterGrace } of cases) {
          // A session at generation 2: generation 1 is its previous credential, generation 0 one before.
          const { original, input, rotated } = await rotatedOnce();
          const second = await store.rotate(refreshNow(rotated, current(rotated), { now: input.now + 1 }));
          if (second.outcome !== 'rotated') throw new Error(`setup rotation answered ${second.outcome}`);
          const latest = second.session;
          const hashes = [original.credentialHash, rotated.credentialHash, latest.credentialHash];
          const presented = { generation, credentialHash: issuedHash && generation < 3 ? hashes[generation]! : token('forged') };
          const now = afterGrace ? latest.graceUntil : input.now + 2;

          const result = await store.rotate(refreshNow(original, presented, { now }));

          const standing = credentialStanding(latest, presented, now);
          expect({ generation, issuedHash, afterGrace, outcome: result.outcome }).toEqual({ generation, issuedHash, afterGrace, outcome: expected[standing] });
        }
      });

      it('property: a legitimate client is never told reuse_detected, and a superseded credential never rotates or replays', async () => {
        type Credential = { generation: number; credentialHash: string };
        const rounds = fc.array(
          fc.record({
            /** Concurrent refreshes the client fires with the credential it holds (tabs, retries). */
            attempts: fc.integer({ min: 1, max: 4 }),
            /** Every response of the round is lost: the client keeps its old credential and retries later. */
            lost: fc.boolean(),
          }),
          { minLength: 1, maxLength: 8 },
        );
        const theft = fc.option(fc.nat(), { nil: undefined });

        await fc.assert(
          fc.asyncProperty(rounds, theft, fc.scheduler(), async (plan, theftPick, scheduler) => {
            const session = newSessionNow(alice);
            await store.createSession(session);
            let held: Credential = current(session);
            /** Every credential the store has rotated to, by generation; its length - 1 is the store's generation. */
            const issued: string[] = [session.credentialHash];

            for (const round of plan) {
              const inputs = Array.from({ length: round.attempts }, () => refreshNow(session, held));
              const pending = inputs.map((input) => scheduler.schedule(Promise.resolve(input)).then((i) => store.rotate(i)));
              await scheduler.waitAll();
              const results = await Promise.all(pending);

              const successors = new Set<string>();
              for (const [i, result] of results.entries()) {
                if (result.outcome === 'rotated') {
                  expect(result.session.generation).toBe(held.generation + 1);
                  successors.add(inputs[i]!.nextCredentialHash);
                  issued.push(inputs[i]!.nextCredentialHash);
                } else if (result.outcome === 'replayed') {
                  successors.add(result.sealed.replace(/^sealed:/, ''));
                } else {
                  throw new Error(`legitimate client at generation ${held.generation} was answered ${JSON.stringify(result)}`);
                }
              }
              expect(results.filter((r) => r.outcome === 'rotated').length).toBeLessThanOrEqual(1);
              expect(successors.size).toBe(1);
              expect(issued.length - 1).toBe(held.generation + 1);
              if (!round.lost) held = { generation: held.generation + 1, credentialHash: [...successors][0]! };
            }

            // A credential whose successor has itself been used must never be honoured.
            const storeGeneration = issued.length - 1;
            if (theftPick !== undefined && storeGeneration >= 2) {
              const generation = theftPick % (storeGeneration - 1);
              const stolen = await store.rotate(refreshNow(session, { generation, credentialHash: issued[generation]! }));
              expect(stolen).toMatchObject({ outcome: 'reuse_detected' });
              expect(await store.rotate(refreshNow(session, held))).toEqual({ outcome: 'ended', reason: 'reuse_detected' });
            }
          }),
          { numRuns: 50 },
        );
      });
    });

    describe('listUserSessions', () => {
      it('lists the user’s live sessions oldest first, and nobody else’s', async () => {
        const now = clock.now();
        const newest = newSessionNow(alice, { createdAt: now - 1000 });
        const oldest = newSessionNow(alice, { createdAt: now - 3000 });
        const middle = newSessionNow(alice, { createdAt: now - 2000 });
        for (const s of [newest, oldest, middle, newSessionNow(bob)]) await store.createSession(s);

        expect(await store.listUserSessions(alice, now)).toEqual([oldest, middle, newest]);
        expect(await store.listUserSessions(token('nobody'), now)).toEqual([]);
      });

      it('prunes expired sessions, which then answer why (idle)', async () => {
        const now = clock.now();
        const live = newSessionNow(alice, { createdAt: now - 2000 });
        const idle = newSessionNow(alice, { createdAt: now - 1000, idleExpiresAt: now + MINUTE });
        await store.createSession(live);
        await store.createSession(idle);

        expect(await store.listUserSessions(alice, now + MINUTE)).toEqual([live]);
        // Pruned for good: an earlier clock does not bring it back.
        expect(await store.listUserSessions(alice, now)).toEqual([live]);
        expect(await store.rotate(refreshNow(idle, current(idle), { now }))).toEqual({ outcome: 'ended', reason: 'idle' });
      });
    });

    describe('per-user session cap (createSession with limits)', () => {
      const CAP = 3;
      const limits = (now = clock.now()) => ({ maxSessionsPerUser: CAP, now, markerTtlMs: 10 * MINUTE });

      it('creating cap + N sessions leaves cap: the least recently active are ended like a revocation', async () => {
        const now = clock.now();
        const created = Array.from({ length: CAP + 2 }, (_, i) => newSessionNow(alice, { createdAt: now - 10_000 + i, lastActivityAt: now - 10_000 + i }));
        const evictions: DeviceSessionRecord[][] = [];
        for (const s of created) evictions.push(await store.createSession(s, limits(now)));

        expect(evictions.slice(0, CAP)).toEqual(Array.from({ length: CAP }, () => []));
        expect(evictions.slice(CAP)).toEqual([[created[0]], [created[1]]]);
        expect(await store.listUserSessions(alice, now)).toEqual(created.slice(2));
        for (const gone of created.slice(0, 2)) {
          expect(await store.getSession(gone.key, now)).toBeNull();
          expect(await store.rotate(refreshNow(gone, current(gone), { now }))).toEqual({ outcome: 'ended', reason: 'cap_evicted' });
          expect(await revocationState(store, token('jti'), gone.sid, alice, clock.now())).toMatchObject({ sidRevoked: true });
        }
        for (const kept of created.slice(2)) {
          expect(await revocationState(store, token('jti'), kept.sid, alice, clock.now())).toMatchObject({ sidRevoked: false });
        }
      });

      it('evicts by last activity, not by age: a refreshed old device outlives idle newer ones', async () => {
        const now = clock.now();
        const [oldest, middle, newest] = [3000, 2000, 1000].map((ago) => newSessionNow(alice, { createdAt: now - ago, lastActivityAt: now - ago }));
        for (const s of [oldest!, middle!, newest!]) await store.createSession(s, limits(now));
        const refreshed = await store.rotate(refreshNow(oldest!, current(oldest!), { now: now - 500 }));
        expect(refreshed.outcome).toBe('rotated');

        const evicted = await store.createSession(newSessionNow(alice), limits(now));

        expect(evicted).toEqual([middle]);
        expect((await store.listUserSessions(alice, now)).map((s) => s.sid)).toEqual(expect.arrayContaining([oldest!.sid, newest!.sid]));
      });

      it('evicts never-refreshed sessions before refreshed ones, however recently they signed in (a forced sign-in flood)', async () => {
        const now = clock.now();
        const [phone, laptop] = [10_000, 8000].map((ago) => newSessionNow(alice, { createdAt: now - ago, lastActivityAt: now - ago }));
        for (const s of [phone!, laptop!]) await store.createSession(s, limits(now));
        // Both devices came back once (a refresh): the least recently active sessions, but in use.
        for (const s of [phone!, laptop!]) expect((await store.rotate(refreshNow(s, current(s), { now: s.createdAt + 1000 }))).outcome).toBe('rotated');
        const forced = newSessionNow(alice, { createdAt: now - 1000, lastActivityAt: now - 1000 });
        await store.createSession(forced, limits(now));

        expect(await store.createSession(newSessionNow(alice, { createdAt: now - 500, lastActivityAt: now - 500 }), limits(now))).toEqual([forced]);
        // A flood of sign-ins nobody comes back to: each evicts the previous one, never a device in use.
        let previous: DeviceSessionRecord | undefined;
        for (let i = 0; i < 5; i++) {
          const next = newSessionNow(alice, { createdAt: now + i, lastActivityAt: now + i });
          const evicted = await store.createSession(next, limits(now + i));
          expect(evicted.map((s) => s.generation)).toEqual([0]);
          if (previous) expect(evicted).toEqual([previous]);
          previous = next;
        }
        const listed = await store.listUserSessions(alice, now + 5);
        expect(listed.map((s) => s.sid)).toEqual([phone!.sid, laptop!.sid, previous!.sid]);
        expect(listed.map((s) => s.generation)).toEqual([1, 1, 0]);
      });

      it('expired sessions make room without anyone being evicted', async () => {
        const now = clock.now();
        const idle = newSessionNow(alice, { createdAt: now - 3000, idleExpiresAt: now - 1 });
        const live = [newSessionNow(alice, { createdAt: now - 2000 }), newSessionNow(alice, { createdAt: now - 1000 })];
        for (const s of [idle, ...live]) await store.createSession(s, limits(now - 5000));

        const next = newSessionNow(alice);
        expect(await store.createSession(next, limits(now))).toEqual([]);
        expect(await store.listUserSessions(alice, now)).toEqual([...live, next]);
        expect(await store.getSession(idle.key, now - 5000)).toBeNull();
        expect(await revocationState(store, token('jti'), idle.sid, alice, clock.now())).toMatchObject({ sidRevoked: false });
      });

      it('holds under concurrent logins, and leaves other users alone', async () => {
        const bobs = newSessionNow(bob);
        await store.createSession(bobs, limits());
        const racing = Array.from({ length: 12 }, () => newSessionNow(alice));
        const evicted = (await Promise.all(racing.map((s) => store.createSession(s, limits())))).flat();

        const listed = await store.listUserSessions(alice, clock.now());
        expect(listed).toHaveLength(CAP);
        expect(evicted).toHaveLength(12 - CAP);
        expect(new Set([...listed, ...evicted].map((s) => s.sid)).size).toBe(12);
        expect(await store.listUserSessions(bob, clock.now())).toEqual([bobs]);
      });

      it('a limited list returns the newest sessions of a user indexed beyond the cap (from before it applied)', async () => {
        const now = clock.now();
        const created = Array.from({ length: 6 }, (_, i) => newSessionNow(alice, { createdAt: now - 6000 + i, absoluteExpiresAt: now + HOUR + i }));
        for (const s of created) await store.createSession(s);

        expect(await store.listUserSessions(alice, now, CAP)).toEqual(created.slice(-CAP));
        expect(await store.listUserSessions(alice, now)).toEqual(created);
        // The next capped login brings the user down to the cap at once, and logout-all still ends every session.
        expect(await store.createSession(newSessionNow(alice), limits(now))).toHaveLength(6 - CAP + 1);
        expect(await store.endAllUserSessions(alice, 'logout_all', now, now, MINUTE)).toHaveLength(CAP);
      });
    });

    describe('endSession', () => {
      it('ends a live session: returns it, revokes its sid, remembers the reason', async () => {
        const session = newSessionNow(alice);
        const other = newSessionNow(alice);
        await store.createSession(session);
        await store.createSession(other);

        expect(await store.endSession(session.key, 'logout', clock.now(), MINUTE)).toEqual(session);
        expect(await store.getSession(session.key, clock.now())).toBeNull();
        expect(await store.listUserSessions(alice, clock.now())).toEqual([other]);
        expect(await revocationState(store, token('jti'), session.sid, alice, clock.now())).toMatchObject({ sidRevoked: true });
        expect(await revocationState(store, token('jti'), other.sid, alice, clock.now())).toMatchObject({ sidRevoked: false });
        expect(await store.rotate(refreshNow(session, current(session)))).toEqual({ outcome: 'ended', reason: 'logout' });
      });

      it('answers null for a session that is gone or expired', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);
        await store.endSession(session.key, 'logout', clock.now(), MINUTE);

        expect(await store.endSession(session.key, 'logout', clock.now(), MINUTE)).toBeNull();
        expect(await store.endSession(token('nope'), 'logout', clock.now(), MINUTE)).toBeNull();

        const idle = newSessionNow(alice);
        await store.createSession(idle);
        expect(await store.endSession(idle.key, 'logout', idle.idleExpiresAt, MINUTE)).toBeNull();
        expect(await store.rotate(refreshNow(idle, current(idle)))).toEqual({ outcome: 'ended', reason: 'idle' });
      });
    });

    describe('IdP links (OIDC)', () => {
      const iss = 'https://idp.example.com/realms/main';
      const link = (sid: string | null, overrides: Partial<IdpLink> = {}): IdpLink => ({
        iss,
        sub: token('sub'),
        sid,
        refreshTokenSealed: token('rt'),
        idTokenSealed: token('idt'),
        accessExpiresAt: clock.now() + 5 * MINUTE,
        ...overrides,
      });

      it('stores the IdP link with the session and returns it unchanged (nullable fields too)', async () => {
        const full = newSessionNow(alice, { idp: link(token('idp-sid')) });
        const bare = newSessionNow(alice, { idp: link(null, { refreshTokenSealed: null, idTokenSealed: null }) });
        await store.createSession(full);
        await store.createSession(bare);
        expect(await store.getSession(full.key, clock.now())).toEqual(full);
        expect(await store.getSession(bare.key, clock.now())).toEqual(bare);
        const { rotated } = await rotatedOnce({ idp: link(token('idp-sid')) });
        expect(rotated.idp).toBeDefined();
        expect((await store.getSession(rotated.key, clock.now()))?.idp).toEqual(rotated.idp);
      });

      it('endSessionsByIdpSid ends every live session of that IdP session, across users, and nothing else', async () => {
        const idpSid = token('idp-sid');
        const a1 = newSessionNow(alice, { idp: link(idpSid) });
        const a2 = newSessionNow(alice, { idp: link(idpSid), createdAt: clock.now() + 1 });
        const b = newSessionNow(bob, { idp: link(idpSid), createdAt: clock.now() + 2 });
        const otherIdpSession = newSessionNow(alice, { idp: link(token('idp-sid')) });
        const otherIssuer = newSessionNow(alice, { idp: { ...link(idpSid), iss: 'https://other.example.com' } });
        const password = newSessionNow(alice);
        for (const s of [a1, a2, b, otherIdpSession, otherIssuer, password]) await store.createSession(s);

        const ended = await store.endSessionsByIdpSid(iss, idpSid, 'backchannel', clock.now(), MINUTE);
        expect(ended.map((s) => s.sid).sort()).toEqual([a1.sid, a2.sid, b.sid].sort());
        for (const s of [a1, a2, b]) {
          expect(await store.getSession(s.key, clock.now())).toBeNull();
          expect(await store.rotate(refreshNow(s, current(s)))).toEqual({ outcome: 'ended', reason: 'backchannel' });
          expect(await revocationState(store, token('jti'), s.sid, s.userId, clock.now())).toMatchObject({ sidRevoked: true });
        }
        for (const s of [otherIdpSession, otherIssuer, password]) expect(await store.getSession(s.key, clock.now())).toEqual(s);
        // The index forgets ended sessions: a second logout for the same IdP session changes nothing.
        expect(await store.endSessionsByIdpSid(iss, idpSid, 'backchannel', clock.now(), MINUTE)).toEqual([]);
      });

      it('endSessionsByIdpSid skips sessions that ended otherwise, and expired ones', async () => {
        const idpSid = token('idp-sid');
        const loggedOut = newSessionNow(alice, { idp: link(idpSid) });
        const idle = newSessionNow(alice, { idp: link(idpSid), idleExpiresAt: clock.now() + SHORT_TTL });
        await store.createSession(loggedOut);
        await store.createSession(idle);
        await store.endSession(loggedOut.key, 'logout', clock.now(), MINUTE);
        await advance(PAST_SHORT_TTL);
        expect(await store.endSessionsByIdpSid(iss, idpSid, 'backchannel', clock.now(), MINUTE)).toEqual([]);
        expect(await store.rotate(refreshNow(loggedOut, current(loggedOut)))).toEqual({ outcome: 'ended', reason: 'logout' });
      });

      it('updateIdpTokens replaces the IdP token fields of a live OIDC session only', async () => {
        const session = newSessionNow(alice, { idp: link(token('idp-sid')) });
        const password = newSessionNow(alice);
        await store.createSession(session);
        await store.createSession(password);
        const update = { refreshTokenSealed: token('rt2'), idTokenSealed: null, accessExpiresAt: clock.now() + HOUR };
        expect(await store.updateIdpTokens(session.key, update, clock.now())).toBe(true);
        expect((await store.getSession(session.key, clock.now()))?.idp).toEqual({ ...session.idp, ...update });
        expect(await store.updateIdpTokens(password.key, update, clock.now())).toBe(false);
        expect(await store.getSession(password.key, clock.now())).toEqual(password);
        await store.endSession(session.key, 'logout', clock.now(), MINUTE);
        expect(await store.updateIdpTokens(session.key, update, clock.now())).toBe(false);
        expect(await store.getSession(session.key, clock.now())).toBeNull();
        expect(await store.updateIdpTokens(newSessionKey(alice), update, clock.now())).toBe(false);
      });

      it('updateIdpTokens keeps the sealed IdP access token, and an update without one removes it', async () => {
        const session = newSessionNow(alice, { idp: link(token('idp-sid'), { accessTokenSealed: token('at') }) });
        await store.createSession(session);
        expect(await store.getSession(session.key, clock.now())).toEqual(session);
        const update = { refreshTokenSealed: token('rt2'), idTokenSealed: token('idt2'), accessTokenSealed: token('at2'), accessExpiresAt: clock.now() + HOUR };
        expect(await store.updateIdpTokens(session.key, update, clock.now())).toBe(true);
        expect((await store.getSession(session.key, clock.now()))?.idp).toEqual({ ...session.idp, ...update });
        const without = { refreshTokenSealed: token('rt3'), idTokenSealed: null, accessExpiresAt: clock.now() + 2 * HOUR };
        expect(await store.updateIdpTokens(session.key, without, clock.now())).toBe(true);
        expect((await store.getSession(session.key, clock.now()))?.idp?.accessTokenSealed ?? null).toBeNull();
      });

      describe('claimIdpRenewal (one renewal at the IdP across instances)', () => {
        const claimOf = (session: DeviceSessionRecord, holder: string, overrides: Partial<IdpRenewalClaimInput> = {}): IdpRenewalClaimInput => ({
          holder,
          seenAccessExpiresAt: session.idp!.accessExpiresAt,
          now: clock.now(),
          leaseMs: MINUTE,
          ...overrides,
        });

        it('grants exactly one of many concurrent claims; the others are busy', async () => {
          const session = newSessionNow(alice, { idp: link(token('idp-sid')) });
          await store.createSession(session);
          const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => store.claimIdpRenewal(session.key, claimOf(session, `holder-${i}`))));
          expect(answers.filter((a) => a === 'claimed')).toHaveLength(1);
          expect(answers.filter((a) => a === 'busy')).toHaveLength(19);
        });

        it('the renewal write ends the claim, and a caller that saw the old expiry gets changed (never a second renewal)', async () => {
          const session = newSessionNow(alice, { idp: link(token('idp-sid')) });
          await store.createSession(session);
          expect(await store.claimIdpRenewal(session.key, claimOf(session, 'a'))).toBe('claimed');
          const update = { refreshTokenSealed: token('rt2'), idTokenSealed: null, accessTokenSealed: token('at2'), accessExpiresAt: clock.now() + HOUR };
          expect(await store.updateIdpTokens(session.key, update, clock.now())).toBe(true);
          expect(await store.claimIdpRenewal(session.key, claimOf(session, 'b'))).toBe('changed');
          // With the expiry it now holds, the next renewal may be claimed at once: the write ended the first claim.
          expect(await store.claimIdpRenewal(session.key, claimOf(session, 'c', { seenAccessExpiresAt: update.accessExpiresAt }))).toBe('claimed');
        });

        it('a released claim frees the renewal; only its holder releases it', async () => {
          const session = newSessionNow(alice, { idp: link(token('idp-sid')) });
          await store.createSession(session);
          expect(await store.claimIdpRenewal(session.key, claimOf(session, 'a'))).toBe('claimed');
          await store.releaseIdpRenewal(session.key, 'b');
          expect(await store.claimIdpRenewal(session.key, claimOf(session, 'b'))).toBe('busy');
          await store.releaseIdpRenewal(session.key, 'a');
          expect(await store.claimIdpRenewal(session.key, claimOf(session, 'b'))).toBe('claimed');
          await store.releaseIdpRenewal(newSessionKey(alice), 'b');
        });

        it('a claim whose holder never came back lapses after its lease', async () => {
          const session = newSessionNow(alice, { idp: link(token('idp-sid')) });
          await store.createSession(session);
          const at = clock.now();
          expect(await store.claimIdpRenewal(session.key, claimOf(session, 'a', { now: at, leaseMs: 5000 }))).toBe('claimed');
          expect(await store.claimIdpRenewal(session.key, claimOf(session, 'b', { now: at + 4999 }))).toBe('busy');
          expect(await store.claimIdpRenewal(session.key, claimOf(session, 'b', { now: at + 5000 }))).toBe('claimed');
        });

        it('gone for a password session, an ended or expired one, and an unknown key; nothing is written', async () => {
          const password = newSessionNow(alice);
          const ended = newSessionNow(alice, { idp: link(token('idp-sid')) });
          const idle = newSessionNow(alice, { idp: link(token('idp-sid')), idleExpiresAt: clock.now() + 1000 });
          for (const s of [password, ended, idle]) await store.createSession(s);
          await store.endSession(ended.key, 'logout', clock.now(), MINUTE);
          expect(await store.claimIdpRenewal(password.key, { ...claimOf(ended, 'a') })).toBe('gone');
          expect(await store.claimIdpRenewal(ended.key, claimOf(ended, 'a'))).toBe('gone');
          expect(await store.claimIdpRenewal(idle.key, claimOf(idle, 'a', { now: idle.idleExpiresAt }))).toBe('gone');
          expect(await store.claimIdpRenewal(newSessionKey(alice), claimOf(ended, 'a'))).toBe('gone');
          expect(await store.getSession(password.key, clock.now())).toEqual(password);
          expect(await store.getSession(ended.key, clock.now())).toBeNull();
        });
      });

      it('restampSession re-stamps authentication (and the IdP tokens of an OIDC session) on a live session of that user only', async () => {
        const session = newSessionNow(alice, { idp: link(token('idp-sid')), authTime: clock.now(), acr: 'urn:example:silver', amr: ['pwd'] });
        const password = newSessionNow(alice, { authTime: clock.now(), amr: ['pwd'], loginName: 'alice@example.com' });
        await store.createSession(session);
        await store.createSession(password);
        expect(await store.getSession(session.key, clock.now())).toEqual(session);
        const later = clock.now() + MINUTE;
        const idp = { refreshTokenSealed: null, idTokenSealed: token('idt2'), accessTokenSealed: token('at2'), accessExpiresAt: clock.now() + HOUR };
        const restamped = await store.restampSession(alice, session.sid, { authTime: later, amr: ['otp', 'pwd'], idp }, clock.now());
        // Same session (key, sid, credential); the stamp replaced, the old acr dropped, the IdP tokens updated.
        const { acr: _dropped, ...rest } = session;
        const expected = { ...rest, authTime: later, amr: ['otp', 'pwd'], idp: { ...session.idp, ...idp } };
        expect(restamped).toEqual(expected);
        expect(await store.getSession(session.key, clock.now())).toEqual(expected);
        // A rotation keeps the stamp.
        const rotated = await store.rotate(refreshNow(restamped!, current(restamped!)));
        expect(rotated).toMatchObject({ outcome: 'rotated', session: { authTime: later, amr: ['otp', 'pwd'] } });
        // A password session: the stamp only (no IdP link appears).
        expect(await store.restampSession(alice, password.sid, { authTime: later, acr: 'urn:example:gold', idp }, clock.now())).toEqual({
          ...password,
          authTime: later,
          acr: 'urn:example:gold',
          amr: undefined,
        });
        expect(await store.getSession(password.key, clock.now())).not.toHaveProperty('idp');
        // Another user's sid, an unknown sid, an ended session: null, nothing changes.
        expect(await store.restampSession(bob, password.sid, { authTime: later + 1 }, clock.now())).toBeNull();
        expect((await store.getSession(password.key, clock.now()))?.authTime).toBe(later);
        expect(await store.restampSession(alice, token('sid'), { authTime: later }, clock.now())).toBeNull();
        await store.endSession(password.key, 'logout', clock.now(), MINUTE);
        expect(await store.restampSession(alice, password.sid, { authTime: later }, clock.now())).toBeNull();
        expect(await store.getSession(password.key, clock.now())).toBeNull();
      });

      it('restampSession refuses an expired session', async () => {
        const idle = newSessionNow(alice, { idleExpiresAt: clock.now() + SHORT_TTL });
        await store.createSession(idle);
        await advance(PAST_SHORT_TTL);
        expect(await store.restampSession(alice, idle.sid, { authTime: clock.now() }, clock.now())).toBeNull();
      });

      it('useOnce answers true once per id while it lives, then again after its TTL', async () => {
        const id = token('jti');
        expect(await store.useOnce(id, SHORT_TTL)).toBe(true);
        expect(await store.useOnce(id, SHORT_TTL)).toBe(false);
        expect(await store.useOnce(token('jti'), SHORT_TTL)).toBe(true);
        await advance(PAST_SHORT_TTL);
        expect(await store.useOnce(id, MINUTE)).toBe(true);
      });

      it('login transaction store: set, get, destroy, and expiry with the cookie', async () => {
        const transactions = store.createLoginTransactionStore?.('test');
        if (!transactions) throw new Error('both stores provide a login transaction store');
        const call = <T>(fn: (cb: (error: unknown, value?: T) => void) => void) =>
          new Promise<T | undefined>((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));
        const id = token('tx');
        // express-session stamps the cookie's expiry with Date.now(), whatever the store's clock.
        const data = { cookie: { originalMaxAge: SHORT_TTL, expires: new Date(Date.now() + SHORT_TTL) }, oidc: { state: 's' } };
        await call((cb) => transactions.set(id, data as never, cb));
        expect(await call((cb) => transactions.get(id, cb))).toMatchObject({ oidc: { state: 's' } });
        await call((cb) => transactions.destroy(id, cb));
        expect(await call((cb) => transactions.get(id, cb))).toBeFalsy();
        await call((cb) => transactions.set(id, data as never, cb));
        await advance(PAST_SHORT_TTL);
        expect(await call((cb) => transactions.get(id, cb))).toBeFalsy();
      });
    });

    describe('endUserSessionBySid', () => {
      it('ends the user’s own session by its public sid', async () => {
        const session = newSessionNow(alice);
        await store.createSession(session);

        expect(await store.endUserSessionBySid(alice, session.sid, 'device_revoked', clock.now(), MINUTE)).toEqual(session);
        expect(await store.getSession(session.key, clock.now())).toBeNull();
        expect(await revocationState(store, token('jti'), session.sid, alice, clock.now())).toMatchObject({ sidRevoked: true });
        expect(await store.endUserSessionBySid(alice, session.sid, 'device_revoked', clock.now(), MINUTE)).toBeNull();
      });

      it('refuses another user’s sid and changes nothing', async () => {
        const bobs = newSessionNow(bob);
        await store.createSession(bobs);

        expect(await store.endUserSessionBySid(alice, bobs.sid, 'device_revoked', clock.now(), MINUTE)).toBeNull();
        expect(await store.getSession(bobs.key, clock.now())).toEqual(bobs);
        expect(await store.listUserSessions(bob, clock.now())).toEqual([bobs]);
        expect(await revocationState(store, token('jti'), bobs.sid, bob, clock.now())).toMatchObject({ sidRevoked: false });
      });

      it('answers null for an unknown sid', async () => {
        expect(await store.endUserSessionBySid(alice, token('sid'), 'device_revoked', clock.now(), MINUTE)).toBeNull();
      });
    });

    describe('endAllUserSessions', () => {
      it('ends every session of the user, revokes each sid, sets revoked_after, leaves other users alone', async () => {
        const now = clock.now();
        const first = newSessionNow(alice, { createdAt: now - 2000 });
        const second = newSessionNow(alice, { createdAt: now - 1000 });
        const bobs = newSessionNow(bob);
        for (const s of [first, second, bobs]) await store.createSession(s);

        expect(await store.endAllUserSessions(alice, 'logout_all', now, now, MINUTE)).toEqual([first, second]);

        expect(await store.listUserSessions(alice, now)).toEqual([]);
        for (const s of [first, second]) {
          expect(await store.rotate(refreshNow(s, current(s)))).toEqual({ outcome: 'ended', reason: 'logout_all' });
          expect(await revocationState(store, token('jti'), s.sid, alice, clock.now())).toEqual({
            jtiRevoked: false,
            sidRevoked: true,
            userRevokedAfter: now,
            keyRingVersion: null,
          });
        }
        expect(await store.listUserSessions(bob, now)).toEqual([bobs]);
        expect(await revocationState(store, token('jti'), bobs.sid, bob, clock.now())).toEqual({
          jtiRevoked: false,
          sidRevoked: false,
          userRevokedAfter: null,
          keyRingVersion: null,
        });
      });

      it('never moves revoked_after backwards, but forwards', async () => {
        const now = clock.now();
        const state = async () => (await revocationState(store, token('jti'), token('sid'), alice, clock.now())).userRevokedAfter;

        expect(await store.endAllUserSessions(alice, 'logout_all', now, now, MINUTE)).toEqual([]);
        expect(await state()).toBe(now);
        await store.endAllUserSessions(alice, 'logout_all', now - 5000, now, MINUTE);
        expect(await state()).toBe(now);
        await store.endAllUserSessions(alice, 'logout_all', now + 5000, now, MINUTE);
        expect(await state()).toBe(now + 5000);
      });

      it('a session created concurrently is either ended with the rest or left untouched', async () => {
        for (let round = 0; round < 10; round++) {
          const user = token('racer');
          const existing = newSessionNow(user, { createdAt: clock.now() - 1000 });
          await store.createSession(existing);
          const racing = newSessionNow(user);
          const now = clock.now();
          const create = () => store.createSession(racing);
          const endAll = () => store.endAllUserSessions(user, 'logout_all', now, now, MINUTE);
          const ended = round % 2 === 0 ? (await Promise.all([create(), endAll()]))[1] : (await Promise.all([endAll(), create()]))[0];

          expect(ended[0]).toEqual(existing);
          if (ended.length === 2) {
            expect(ended[1]).toEqual(racing);
            expect(await store.listUserSessions(user, now)).toEqual([]);
            expect(await store.rotate(refreshNow(racing, current(racing), { now }))).toEqual({ outcome: 'ended', reason: 'logout_all' });
          } else {
            expect(ended).toHaveLength(1);
            expect(await store.listUserSessions(user, now)).toEqual([racing]);
            expect(await store.getSession(racing.key, now)).toEqual(racing);
            expect(await revocationState(store, token('jti'), racing.sid, user, clock.now())).toMatchObject({ sidRevoked: false });
          }
        }
      });
    });

    describe('revocation state (as the log shows it)', () => {
      it('reports a revoked jti, and only that jti', async () => {
        const jti = token('jti');
        await store.revokeJti(jti, MINUTE);

        expect(await revocationState(store, jti, token('sid'), alice, clock.now())).toEqual({
          jtiRevoked: true,
          sidRevoked: false,
          userRevokedAfter: null,
          keyRingVersion: null,
        });
        expect(await revocationState(store, token('jti'), token('sid'), alice, clock.now())).toMatchObject({ jtiRevoked: false });
      });

      it('reports the key ring version', async () => {
        await store.putKeyRing(null, { version: 'v1', sealed: 'ring-1' });
        expect(await revocationState(store, token('jti'), token('sid'), alice, clock.now())).toMatchObject({ keyRingVersion: 'v1' });
        await store.putKeyRing('v1', { version: 'v2', sealed: 'ring-2' });
        expect(await revocationState(store, token('jti'), token('sid'), alice, clock.now())).toMatchObject({ keyRingVersion: 'v2' });
      });
    });

    describe('key ring', () => {
      it('is null until saved', async () => {
        expect(await store.getKeyRing()).toBeNull();
      });

      it('compare-and-set: null expects none, a stale version loses', async () => {
        expect(await store.putKeyRing('v0', { version: 'v1', sealed: 'ring-1' })).toBe(false);
        expect(await store.getKeyRing()).toBeNull();

        expect(await store.putKeyRing(null, { version: 'v1', sealed: 'ring-1' })).toBe(true);
        expect(await store.getKeyRing()).toEqual({ version: 'v1', sealed: 'ring-1' });
        expect(await store.putKeyRing(null, { version: 'v1b', sealed: 'ring-1b' })).toBe(false);

        expect(await store.putKeyRing('v1', { version: 'v2', sealed: 'ring-2' })).toBe(true);
        expect(await store.putKeyRing('v1', { version: 'v2b', sealed: 'ring-2b' })).toBe(false);
        expect(await store.getKeyRing()).toEqual({ version: 'v2', sealed: 'ring-2' });
      });

      it('lets exactly one of several concurrent writers win', async () => {
        await store.putKeyRing(null, { version: 'v1', sealed: 'ring-1' });
        const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => store.putKeyRing('v1', { version: `v2-${i}`, sealed: `ring-2-${i}` })));
        expect(wins.filter(Boolean)).toHaveLength(1);
        const winner = wins.indexOf(true);
        expect(await store.getKeyRing()).toEqual({ version: `v2-${winner}`, sealed: `ring-2-${winner}` });
      });
    });

    describe('expiry (on the store’s clock)', () => {
      it('forgets jti, sid and user markers after their TTL', async () => {
        const jti = token('jti');
        const session = newSessionNow(alice);
        const others = newSessionNow(bob);
        await store.createSession(session);
        await store.createSession(others);
        await store.revokeJti(jti, SHORT_TTL);
        await store.endSession(session.key, 'logout', clock.now(), SHORT_TTL);
        await store.endAllUserSessions(bob, 'logout_all', clock.now(), clock.now(), SHORT_TTL);

        expect(await revocationState(store, jti, session.sid, bob, clock.now())).toMatchObject({
          jtiRevoked: true,
          sidRevoked: true,
          userRevokedAfter: expect.any(Number),
        });
        await advance(PAST_SHORT_TTL);
        expect(await revocationState(store, jti, session.sid, bob, clock.now())).toEqual({
          jtiRevoked: false,
          sidRevoked: false,
          userRevokedAfter: null,
          keyRingVersion: null,
        });
        expect(await revocationState(store, token('jti'), others.sid, bob, clock.now())).toMatchObject({ sidRevoked: false });
      });

      it('forgets a session and its tombstone at the session’s absolute end', async () => {
        const now = clock.now();
        const short = { idleExpiresAt: now + SHORT_TTL, absoluteExpiresAt: now + SHORT_TTL };
        const untouched = newSessionNow(alice, short);
        const ended = newSessionNow(alice, short);
        await store.createSession(untouched);
        await store.createSession(ended);
        await store.endSession(ended.key, 'logout', now, MINUTE);
        expect(await store.rotate(refreshNow(ended, current(ended), { now }))).toEqual({ outcome: 'ended', reason: 'logout' });

        await advance(PAST_SHORT_TTL);

        // Asked with the creation-time `now`: only the store's own expiry (its clock, Redis's key TTLs) explains the answers.
        expect(await store.getSession(untouched.key, now)).toBeNull();
        expect(await store.listUserSessions(alice, now)).toEqual([]);
        expect(await store.rotate(refreshNow(untouched, current(untouched), { now }))).toEqual({ outcome: 'ended', reason: null });
        expect(await store.rotate(refreshNow(ended, current(ended), { now }))).toEqual({ outcome: 'ended', reason: null });
        expect(await store.endUserSessionBySid(alice, untouched.sid, 'device_revoked', now, MINUTE)).toBeNull();
      });

      it('keeps a tombstone (why the session ended) until the session would have idled out, not until its absolute end', async () => {
        const now = clock.now();
        const session = newSessionNow(alice, { idleExpiresAt: now + SHORT_TTL, absoluteExpiresAt: now + HOUR });
        await store.createSession(session);
        await store.endSession(session.key, 'logout', now, MINUTE);
        expect(await store.rotate(refreshNow(session, current(session), { now }))).toEqual({ outcome: 'ended', reason: 'logout' });

        await advance(PAST_SHORT_TTL);

        // Long before the absolute end, the reason is gone: ended sessions do not pile up for their whole lifetime.
        expect(await store.rotate(refreshNow(session, current(session), { now }))).toEqual({ outcome: 'ended', reason: null });
      });

      it('ignores non-positive TTLs instead of writing markers that never expire', async () => {
        const jti = token('jti');
        await store.revokeJti(jti, 0);
        expect(await revocationState(store, jti, token('sid'), alice, clock.now())).toMatchObject({ jtiRevoked: false });
      });
    });

    describe('revocation log', () => {
      const readAll = async (after: string | null = null) => store.readRevocations(after, { blockMs: 0, count: 1000 });

      // A sharded log (Redis Cluster) is ordered per shard only, so order is asserted only where one shard holds it.
      it('records every kind of revocation, each with its expiry', async () => {
        const before = clock.now();
        const s1 = newSessionNow(alice);
        await store.createSession(s1);
        await store.revokeJti('jti-1', 60_000);
        await store.endSession(s1.key, 'logout', clock.now(), 30_000);
        const s2 = newSessionNow(bob);
        await store.createSession(s2);
        await store.endAllUserSessions(bob, 'logout_all', 1234, clock.now(), 30_000);
        await store.putKeyRing(null, { version: 'v1', sealed: 'x' });
        const { events } = await readAll();
        const kinds = events.map((e) => [e.kind, e.id]);
        expect(kinds).toHaveLength(5);
        expect(kinds).toEqual(
          expect.arrayContaining([
            ['jti', 'jti-1'],
            ['sid', s1.sid],
            ['sid', s2.sid],
            ['user', bob],
            ['keyring', 'v1'],
          ]),
        );
        const jti = events.find((e) => e.kind === 'jti')!;
        expect(jti.expiresAt).toBeGreaterThanOrEqual(before + 59_000);
        expect(jti.expiresAt).toBeLessThanOrEqual(clock.now() + 61_000);
        expect(jti.at).toBeGreaterThanOrEqual(before - 1000);
        expect(events.find((e) => e.kind === 'user')).toMatchObject({ revokedAfter: 1234 });
      });

      it('resumes after a position without repeating or losing events', async () => {
        await store.revokeJti('a', 60_000);
        await store.revokeJti('b', 60_000);
        const first = await store.readRevocations(null, { blockMs: 0, count: 1 });
        expect(first.events).toHaveLength(1);
        await store.revokeJti('c', 60_000);
        const rest = await readAll(first.position);
        expect([...first.events, ...rest.events].map((e) => e.id).sort()).toEqual(['a', 'b', 'c']);
        const none = await readAll(rest.position);
        expect(none.events).toEqual([]);
        expect(none.position).toBe(rest.position);
      });

      it('a batch holds at most `count` events, and the rest follow without loss', async () => {
        const ids = Array.from({ length: 25 }, (_, i) => `j${i}`);
        for (const id of ids) await store.revokeJti(id, 60_000);
        const seen: string[] = [];
        let position: string | null = null;
        for (let reads = 0; reads < 10; reads++) {
          const batch = await store.readRevocations(position, { blockMs: 0, count: 4 });
          expect(batch.events.length).toBeLessThanOrEqual(4);
          seen.push(...batch.events.map((e) => e.id));
          position = batch.position;
          if (batch.events.length < 4) break;
        }
        expect(seen.sort()).toEqual([...ids].sort());
      });

      it('a blocked read wakes up for a new event, and times out empty otherwise', async () => {
        const { position } = await readAll();
        const empty = await store.readRevocations(position, { blockMs: 100, count: 10 });
        expect(empty.events).toEqual([]);
        const waiting = store.readRevocations(position, { blockMs: 5000, count: 10 });
        await sleep(50);
        await store.revokeJti('late', 60_000);
        const woke = await waiting;
        expect(woke.events.map((e) => e.id)).toEqual(['late']);
      });

      it('createSession with logTtlMs logs a session event (sid, user, expiry) in the same operation; without it, none', async () => {
        const before = clock.now();
        const quiet = newSessionNow(alice);
        await store.createSession(quiet);
        expect((await readAll()).events).toEqual([]);
        const announced = newSessionNow(alice);
        await store.createSession(announced, { logTtlMs: 30_000 });
        const { events } = await readAll();
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ kind: 'session', id: announced.sid, userId: alice });
        expect(events[0]!.expiresAt).toBeGreaterThanOrEqual(before + 29_000);
        expect(events[0]!.expiresAt).toBeLessThanOrEqual(clock.now() + 31_000);
        expect(await store.getSession(announced.key, clock.now())).toEqual(announced);
      });

      it('session events expire with their TTL, like the markers they sit beside', async () => {
        await store.createSession(newSessionNow(alice), { logTtlMs: SHORT_TTL });
        await advance(PAST_SHORT_TTL);
        const { events } = await readAll();
        expect(events.filter((e) => e.expiresAt > clock.now())).toEqual([]);
      });

      it('sid events say whose session ended and why (logout, device_revoked, reuse_detected, logout_all)', async () => {
        const loggedOut = newSessionNow(alice);
        const revoked = newSessionNow(alice);
        await store.createSession(loggedOut);
        await store.createSession(revoked);
        await store.endSession(loggedOut.key, 'logout', clock.now(), 30_000);
        await store.endUserSessionBySid(alice, revoked.sid, 'device_revoked', clock.now(), 30_000);
        const { original, input } = await rotatedOnce();
        await store.rotate({ ...input, now: clock.now() + 2 * MINUTE });
        const everywhere = newSessionNow(bob);
        await store.createSession(everywhere);
        await store.endAllUserSessions(bob, 'logout_all', clock.now(), clock.now(), 30_000);
        const sidEvents = (await readAll()).events.filter((e) => e.kind === 'sid');
        expect(sidEvents).toHaveLength(4);
        expect(sidEvents).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ id: loggedOut.sid, userId: alice, reason: 'logout' }),
            expect.objectContaining({ id: revoked.sid, userId: alice, reason: 'device_revoked' }),
            expect.objectContaining({ id: original.sid, userId: alice, reason: 'reuse_detected' }),
            expect.objectContaining({ id: everywhere.sid, userId: bob, reason: 'logout_all' }),
          ]),
        );
      });

      it('writes no event for a revocation that changes nothing', async () => {
        await store.revokeJti('expired-already', 0);
        expect(await store.endSession('no-such-key', 'logout', clock.now(), 30_000)).toBeNull();
        expect((await readAll()).events).toEqual([]);
      });
    });
  });
}
