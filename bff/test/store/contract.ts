/**
 * The one behaviour suite every SessionStore runs (memory and Redis). Times are real epoch
 * milliseconds: the stores expire entries in real time, so records are built around Date.now().
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RevocationEvent } from '../../src/store/revocation-feed.js';
import { newSessionKey } from '../../src/store/session-key.js';
import type { DeviceSessionRecord, IdpLink, RotateInput, SessionStore } from '../../src/store/types.js';
import { runTenantContract } from './tenant-contract.js';

/** What the log says about one token right now: the facts a guard's local view derives from it. */
export async function revocationState(store: SessionStore, jti: string, sid: string, userId: string) {
  const events: RevocationEvent[] = [];
  let position: string | null = null;
  for (;;) {
    const batch = await store.readRevocations(position, { blockMs: 0, count: 1000 });
    events.push(...batch.events);
    position = batch.position;
    if (batch.events.length < 1000) break;
  }
  const now = Date.now();
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
  teardown(): Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Short TTL for the expiry tests, and how long to wait for it to pass. */
const SHORT_TTL = 150;
const PAST_SHORT_TTL = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const token = (label: string) => `${label}-${randomUUID()}`;

/** A fresh generation-0 session for `userId`, valid for an hour of idle time and a day in total. */
export function newSession(userId: string, overrides: Partial<DeviceSessionRecord> = {}): DeviceSessionRecord {
  const now = Date.now();
  return {
    key: newSessionKey(userId),
    sid: token('sid'),
    userId,
    userName: `${userId} name`,
    deviceName: 'Firefox on Linux',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0',
    createdAt: now,
    lastActiveAt: now,
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
function refresh(session: DeviceSessionRecord, presented: { generation: number; credentialHash: string }, overrides: Partial<RotateInput> = {}): RotateInput {
  const nextCredentialHash = token('hash');
  return {
    key: session.key,
    generation: presented.generation,
    credentialHash: presented.credentialHash,
    nextCredentialHash,
    nextSealed: `sealed:${nextCredentialHash}`,
    now: Date.now(),
    idleTimeoutMs: HOUR,
    graceMs: MINUTE,
    markerTtlMs: 10 * MINUTE,
    ...overrides,
  };
}

const current = (session: DeviceSessionRecord) => ({ generation: session.generation, credentialHash: session.credentialHash });

export function runStoreContract(name: string, setup: () => Promise<StoreFixture>): void {
  runTenantContract(name, setup);
  describe(`SessionStore contract: ${name}`, () => {
    let store: SessionStore;
    let teardown: () => Promise<void>;
    /** Every test works on its own users, so leftovers never leak between tests. */
    let alice: string;
    let bob: string;

    beforeEach(async () => {
      ({ store, teardown } = await setup());
      alice = token('alice');
      bob = token('bob');
    });

    afterEach(async () => {
      await teardown();
    });

    /** Creates a session and rotates it once, so it has a previous credential and a successor. */
    async function rotatedOnce(overrides: Partial<DeviceSessionRecord> = {}) {
      const session = newSession(alice, overrides);
      await store.createSession(session);
      const input = refresh(session, current(session));
      const result = await store.rotate(input);
      if (result.outcome !== 'rotated') throw new Error(`setup rotation answered ${result.outcome}`);
      return { original: session, input, rotated: result.session };
    }

    describe('sessions', () => {
      it('stores a session and returns it unchanged', async () => {
        const session = newSession(alice);
        await store.createSession(session);
        expect(await store.getSession(session.key, Date.now())).toEqual(session);
      });

      it('answers null for an unknown key', async () => {
        expect(await store.getSession(token('nope'), Date.now())).toBeNull();
        expect(await store.getSession(newSessionKey(alice), Date.now())).toBeNull();
      });

      it('refuses a session whose key was not made for its user, and stores nothing', async () => {
        const foreign = newSession(alice, { key: newSessionKey(bob) });
        await expect(store.createSession(foreign)).rejects.toThrow(/newSessionKey/);
        await expect(store.createSession(newSession(alice, { key: token('free-form') }))).rejects.toThrow(/newSessionKey/);
        expect(await store.getSession(foreign.key, Date.now())).toBeNull();
        expect(await store.listUserSessions(alice, Date.now())).toEqual([]);
      });

      it('keeps a rotated-once session with its nullable fields filled', async () => {
        const { rotated } = await rotatedOnce();
        expect(await store.getSession(rotated.key, Date.now())).toEqual(rotated);
      });

      it('keeps the granted claims (JSON values) through getSession, rotate and listUserSessions', async () => {
        const claims = { tenant: 'acme', roles: ['editor', 'viewer'], limits: { daily: 5, note: null }, beta: true, scope: 'read:feed admin' };
        const session = newSession(alice, { claims });
        await store.createSession(session);
        expect(await store.getSession(session.key, Date.now())).toEqual(session);
        const rotated = await store.rotate(refresh(session, current(session)));
        expect(rotated).toMatchObject({ outcome: 'rotated', session: { claims } });
        expect((await store.listUserSessions(alice, Date.now()))[0]?.claims).toEqual(claims);
        const plain = newSession(bob);
        await store.createSession(plain);
        expect(await store.getSession(plain.key, Date.now())).not.toHaveProperty('claims');
      });

      it('returns copies: mutating a returned record does not change the store', async () => {
        const session = newSession(alice);
        await store.createSession(session);
        const read = await store.getSession(session.key, Date.now());
        read!.credentialHash = 'tampered';
        session.credentialHash = 'tampered-too';
        expect((await store.getSession(read!.key, Date.now()))?.credentialHash).not.toMatch(/tampered/);
      });

      it('treats a session as ended at its idle end and at its absolute end, whichever comes first', async () => {
        const now = Date.now();
        const idle = newSession(alice, { idleExpiresAt: now + MINUTE, absoluteExpiresAt: now + HOUR });
        const absolute = newSession(alice, { idleExpiresAt: now + HOUR, absoluteExpiresAt: now + 2 * MINUTE });
        await store.createSession(idle);
        await store.createSession(absolute);

        expect(await store.getSession(idle.key, now + MINUTE - 1)).toEqual(idle);
        expect(await store.getSession(idle.key, now + MINUTE)).toBeNull();
        expect(await store.getSession(absolute.key, now + 2 * MINUTE - 1)).toEqual(absolute);
        expect(await store.getSession(absolute.key, now + 2 * MINUTE)).toBeNull();
      });

      it('keeps activity from pushing the idle end past the absolute end', async () => {
        const now = Date.now();
        const session = newSession(alice, { idleExpiresAt: now + MINUTE, absoluteExpiresAt: now + 5 * MINUTE });
        await store.createSession(session);

        // Each refresh moves the idle end forward by idleTimeoutMs…
        const first = await store.rotate(refresh(session, current(session), { now: now + 30_000, idleTimeoutMs: 2 * MINUTE }));
        expect(first).toMatchObject({ outcome: 'rotated', session: { idleExpiresAt: now + 30_000 + 2 * MINUTE } });
        const afterFirst = (first as { session: DeviceSessionRecord }).session;

        // …but never past the absolute end…
        const second = await store.rotate(refresh(afterFirst, current(afterFirst), { now: now + 2 * MINUTE, idleTimeoutMs: 4 * MINUTE }));
        expect(second).toMatchObject({ outcome: 'rotated', session: { idleExpiresAt: now + 5 * MINUTE } });
        const afterSecond = (second as { session: DeviceSessionRecord }).session;

        // …so an active session still ends there.
        expect(await store.getSession(session.key, now + 5 * MINUTE)).toBeNull();
        expect(await store.rotate(refresh(afterSecond, current(afterSecond), { now: now + 5 * MINUTE }))).toEqual({
          outcome: 'ended',
          reason: 'session_expired',
        });
      });
    });

    describe('rotate', () => {
      it('rotated: the current credential moves the session to the caller’s successor', async () => {
        const session = newSession(alice);
        await store.createSession(session);
        const input = refresh(session, current(session), { now: session.createdAt + 1000, idleTimeoutMs: HOUR, graceMs: 30_000 });

        const result = await store.rotate(input);

        const expected: DeviceSessionRecord = {
          ...session,
          generation: 1,
          credentialHash: input.nextCredentialHash,
          previousHash: session.credentialHash,
          successorSealed: input.nextSealed,
          graceUntil: input.now + 30_000,
          lastActiveAt: input.now,
          idleExpiresAt: input.now + HOUR,
        };
        expect(result).toEqual({ outcome: 'rotated', session: expected });
        expect(await store.getSession(session.key, input.now)).toEqual(expected);
      });

      it('replayed: the previous credential within grace gets the same successor and changes nothing', async () => {
        const { original, input, rotated } = await rotatedOnce();

        const result = await store.rotate(refresh(original, current(original), { now: input.now + 1000 }));

        expect(result).toEqual({ outcome: 'replayed', session: rotated, sealed: input.nextSealed });
        expect(await store.getSession(original.key, input.now + 1000)).toEqual(rotated);
      });

      it('reuse_detected: the previous credential after grace ends the session and revokes its sid', async () => {
        const { original, input, rotated } = await rotatedOnce();
        // The window runs from the rotation: at least `now + graceMs` (Redis counts from when its script really ran).
        expect(rotated.graceUntil).toBeGreaterThanOrEqual(input.now + input.graceMs);
        const afterGrace = rotated.graceUntil;

        const result = await store.rotate(refresh(original, current(original), { now: afterGrace }));

        expect(result).toEqual({ outcome: 'reuse_detected', session: rotated });
        expect(await store.getSession(original.key, afterGrace)).toBeNull();
        expect(await store.listUserSessions(alice, afterGrace)).toEqual([]);
        expect(await revocationState(store, token('jti'), original.sid, alice)).toMatchObject({ sidRevoked: true });
        expect(await store.rotate(refresh(rotated, current(rotated), { now: afterGrace }))).toEqual({
          outcome: 'ended',
          reason: 'reuse_detected',
        });
      });

      it('reuse_detected: a credential two generations old ends the session even within grace', async () => {
        const { original, input, rotated } = await rotatedOnce();
        const second = await store.rotate(refresh(rotated, current(rotated), { now: input.now + 1 }));
        expect(second.outcome).toBe('rotated');
        const latest = (second as { session: DeviceSessionRecord }).session;

        // Any hash at generation 0 counts: the store no longer knows which one it issued.
        const result = await store.rotate(refresh(original, { generation: 0, credentialHash: token('whatever') }, { now: input.now + 2 }));

        expect(result).toEqual({ outcome: 'reuse_detected', session: latest });
        expect(await store.getSession(original.key, input.now + 2)).toBeNull();
        expect(await revocationState(store, token('jti'), original.sid, alice)).toMatchObject({ sidRevoked: true });
      });

      it('mismatch: the current generation with another secret changes nothing', async () => {
        const session = newSession(alice);
        await store.createSession(session);

        const result = await store.rotate(refresh(session, { generation: 0, credentialHash: token('forged') }));

        expect(result).toEqual({ outcome: 'mismatch' });
        expect(await store.getSession(session.key, Date.now())).toEqual(session);
        expect(await revocationState(store, token('jti'), session.sid, alice)).toMatchObject({ sidRevoked: false });
      });

      it('mismatch: a generation from the future changes nothing', async () => {
        const session = newSession(alice);
        await store.createSession(session);

        const result = await store.rotate(refresh(session, { generation: 1, credentialHash: session.credentialHash }));

        expect(result).toEqual({ outcome: 'mismatch' });
        expect(await store.getSession(session.key, Date.now())).toEqual(session);
      });

      it('mismatch: the previous generation with a secret this session never issued changes nothing', async () => {
        const { original, input, rotated } = await rotatedOnce();

        const result = await store.rotate(refresh(original, { generation: 0, credentialHash: token('forged') }, { now: input.now + 1 }));

        expect(result).toEqual({ outcome: 'mismatch' });
        expect(await store.getSession(original.key, input.now + 1)).toEqual(rotated);
      });

      it('ended: null for a key that never existed', async () => {
        const session = newSession(alice);
        expect(await store.rotate(refresh(session, current(session)))).toEqual({ outcome: 'ended', reason: null });
      });

      it('ended: session_expired once idle, and the reason is remembered', async () => {
        const session = newSession(alice);
        await store.createSession(session);
        const idle = refresh(session, current(session), { now: session.idleExpiresAt });

        expect(await store.rotate(idle)).toEqual({ outcome: 'ended', reason: 'session_expired' });
        expect(await store.getSession(session.key, session.createdAt)).toBeNull();
        expect(await store.listUserSessions(alice, session.createdAt)).toEqual([]);
        expect(await store.rotate(refresh(session, current(session), { now: session.createdAt }))).toEqual({
          outcome: 'ended',
          reason: 'session_expired',
        });
      });

      it('ended: remembers logout and session_revoked', async () => {
        const loggedOut = newSession(alice);
        const revoked = newSession(alice);
        await store.createSession(loggedOut);
        await store.createSession(revoked);
        await store.endSession(loggedOut.key, 'logout', Date.now(), MINUTE);
        await store.endUserSessionBySid(alice, revoked.sid, 'session_revoked', Date.now(), MINUTE);

        expect(await store.rotate(refresh(loggedOut, current(loggedOut)))).toEqual({ outcome: 'ended', reason: 'logout' });
        expect(await store.rotate(refresh(revoked, current(revoked)))).toEqual({ outcome: 'ended', reason: 'session_revoked' });
      });

      it('50 concurrent refreshes with the current credential: one rotates, 49 replay its successor', async () => {
        const session = newSession(alice);
        await store.createSession(session);
        const inputs = Array.from({ length: 50 }, () => refresh(session, current(session)));

        const results = await Promise.all(inputs.map((input) => store.rotate(input)));

        const rotated = results.filter((r) => r.outcome === 'rotated');
        const replayed = results.filter((r) => r.outcome === 'replayed');
        expect(rotated).toHaveLength(1);
        expect(replayed).toHaveLength(49);
        const winner = inputs[results.findIndex((r) => r.outcome === 'rotated')]!;
        for (const replay of replayed) expect(replay).toMatchObject({ sealed: winner.nextSealed, session: { generation: 1 } });
        expect(await store.getSession(session.key, Date.now())).toMatchObject({
          generation: 1,
          credentialHash: winner.nextCredentialHash,
          successorSealed: winner.nextSealed,
        });
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
            const session = newSession(alice);
            await store.createSession(session);
            let held: Credential = current(session);
            /** Every credential the store has rotated to, by generation; its length - 1 is the store's generation. */
            const issued: string[] = [session.credentialHash];

            for (const round of plan) {
              const inputs = Array.from({ length: round.attempts }, () => refresh(session, held));
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
              const stolen = await store.rotate(refresh(session, { generation, credentialHash: issued[generation]! }));
              expect(stolen).toMatchObject({ outcome: 'reuse_detected' });
              expect(await store.rotate(refresh(session, held))).toEqual({ outcome: 'ended', reason: 'reuse_detected' });
            }
          }),
          { numRuns: 50 },
        );
      });
    });

    describe('listUserSessions', () => {
      it('lists the user’s live sessions oldest first, and nobody else’s', async () => {
        const now = Date.now();
        const newest = newSession(alice, { createdAt: now - 1000 });
        const oldest = newSession(alice, { createdAt: now - 3000 });
        const middle = newSession(alice, { createdAt: now - 2000 });
        for (const s of [newest, oldest, middle, newSession(bob)]) await store.createSession(s);

        expect(await store.listUserSessions(alice, now)).toEqual([oldest, middle, newest]);
        expect(await store.listUserSessions(token('nobody'), now)).toEqual([]);
      });

      it('prunes expired sessions, which then answer session_expired', async () => {
        const now = Date.now();
        const live = newSession(alice, { createdAt: now - 2000 });
        const idle = newSession(alice, { createdAt: now - 1000, idleExpiresAt: now + MINUTE });
        await store.createSession(live);
        await store.createSession(idle);

        expect(await store.listUserSessions(alice, now + MINUTE)).toEqual([live]);
        // Pruned for good: an earlier clock does not bring it back.
        expect(await store.listUserSessions(alice, now)).toEqual([live]);
        expect(await store.rotate(refresh(idle, current(idle), { now }))).toEqual({ outcome: 'ended', reason: 'session_expired' });
      });
    });

    describe('per-user session cap (createSession with limits)', () => {
      const CAP = 3;
      const limits = (now = Date.now()) => ({ maxSessionsPerUser: CAP, now, markerTtlMs: 10 * MINUTE });

      it('creating cap + N sessions leaves cap: the least recently active are ended like a revocation', async () => {
        const now = Date.now();
        const created = Array.from({ length: CAP + 2 }, (_, i) =>
          newSession(alice, { createdAt: now - 10_000 + i, lastActiveAt: now - 10_000 + i }),
        );
        const evictions: DeviceSessionRecord[][] = [];
        for (const s of created) evictions.push(await store.createSession(s, limits(now)));

        expect(evictions.slice(0, CAP)).toEqual(Array.from({ length: CAP }, () => []));
        expect(evictions.slice(CAP)).toEqual([[created[0]], [created[1]]]);
        expect(await store.listUserSessions(alice, now)).toEqual(created.slice(2));
        for (const gone of created.slice(0, 2)) {
          expect(await store.getSession(gone.key, now)).toBeNull();
          expect(await store.rotate(refresh(gone, current(gone), { now }))).toEqual({ outcome: 'ended', reason: 'session_revoked' });
          expect(await revocationState(store, token('jti'), gone.sid, alice)).toMatchObject({ sidRevoked: true });
        }
        for (const kept of created.slice(2)) {
          expect(await revocationState(store, token('jti'), kept.sid, alice)).toMatchObject({ sidRevoked: false });
        }
      });

      it('evicts by last activity, not by age: a refreshed old device outlives idle newer ones', async () => {
        const now = Date.now();
        const [oldest, middle, newest] = [3000, 2000, 1000].map((ago) => newSession(alice, { createdAt: now - ago, lastActiveAt: now - ago }));
        for (const s of [oldest!, middle!, newest!]) await store.createSession(s, limits(now));
        const refreshed = await store.rotate(refresh(oldest!, current(oldest!), { now: now - 500 }));
        expect(refreshed.outcome).toBe('rotated');

        const evicted = await store.createSession(newSession(alice), limits(now));

        expect(evicted).toEqual([middle]);
        expect((await store.listUserSessions(alice, now)).map((s) => s.sid)).toEqual(expect.arrayContaining([oldest!.sid, newest!.sid]));
      });

      it('expired sessions make room without anyone being evicted', async () => {
        const now = Date.now();
        const idle = newSession(alice, { createdAt: now - 3000, idleExpiresAt: now - 1 });
        const live = [newSession(alice, { createdAt: now - 2000 }), newSession(alice, { createdAt: now - 1000 })];
        for (const s of [idle, ...live]) await store.createSession(s, limits(now - 5000));

        const next = newSession(alice);
        expect(await store.createSession(next, limits(now))).toEqual([]);
        expect(await store.listUserSessions(alice, now)).toEqual([...live, next]);
        expect(await store.getSession(idle.key, now - 5000)).toBeNull();
        expect(await revocationState(store, token('jti'), idle.sid, alice)).toMatchObject({ sidRevoked: false });
      });

      it('holds under concurrent logins, and leaves other users alone', async () => {
        const bobs = newSession(bob);
        await store.createSession(bobs, limits());
        const racing = Array.from({ length: 12 }, () => newSession(alice));
        const evicted = (await Promise.all(racing.map((s) => store.createSession(s, limits())))).flat();

        const listed = await store.listUserSessions(alice, Date.now());
        expect(listed).toHaveLength(CAP);
        expect(evicted).toHaveLength(12 - CAP);
        expect(new Set([...listed, ...evicted].map((s) => s.sid)).size).toBe(12);
        expect(await store.listUserSessions(bob, Date.now())).toEqual([bobs]);
      });

      it('a limited list returns the newest sessions of a user indexed beyond the cap (from before it applied)', async () => {
        const now = Date.now();
        const created = Array.from({ length: 6 }, (_, i) => newSession(alice, { createdAt: now - 6000 + i, absoluteExpiresAt: now + HOUR + i }));
        for (const s of created) await store.createSession(s);

        expect(await store.listUserSessions(alice, now, CAP)).toEqual(created.slice(-CAP));
        expect(await store.listUserSessions(alice, now)).toEqual(created);
        // The next capped login brings the user down to the cap at once, and logout-all still ends every session.
        expect(await store.createSession(newSession(alice), limits(now))).toHaveLength(6 - CAP + 1);
        expect(await store.endAllUserSessions(alice, now, now, MINUTE)).toHaveLength(CAP);
      });
    });

    describe('endSession', () => {
      it('ends a live session: returns it, revokes its sid, remembers the reason', async () => {
        const session = newSession(alice);
        const other = newSession(alice);
        await store.createSession(session);
        await store.createSession(other);

        expect(await store.endSession(session.key, 'logout', Date.now(), MINUTE)).toEqual(session);
        expect(await store.getSession(session.key, Date.now())).toBeNull();
        expect(await store.listUserSessions(alice, Date.now())).toEqual([other]);
        expect(await revocationState(store, token('jti'), session.sid, alice)).toMatchObject({ sidRevoked: true });
        expect(await revocationState(store, token('jti'), other.sid, alice)).toMatchObject({ sidRevoked: false });
        expect(await store.rotate(refresh(session, current(session)))).toEqual({ outcome: 'ended', reason: 'logout' });
      });

      it('answers null for a session that is gone or expired', async () => {
        const session = newSession(alice);
        await store.createSession(session);
        await store.endSession(session.key, 'logout', Date.now(), MINUTE);

        expect(await store.endSession(session.key, 'logout', Date.now(), MINUTE)).toBeNull();
        expect(await store.endSession(token('nope'), 'logout', Date.now(), MINUTE)).toBeNull();

        const idle = newSession(alice);
        await store.createSession(idle);
        expect(await store.endSession(idle.key, 'logout', idle.idleExpiresAt, MINUTE)).toBeNull();
        expect(await store.rotate(refresh(idle, current(idle)))).toEqual({ outcome: 'ended', reason: 'session_expired' });
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
        accessExpiresAt: Date.now() + 5 * MINUTE,
        ...overrides,
      });

      it('stores the IdP link with the session and returns it unchanged (nullable fields too)', async () => {
        const full = newSession(alice, { idp: link(token('idp-sid')) });
        const bare = newSession(alice, { idp: link(null, { refreshTokenSealed: null, idTokenSealed: null }) });
        await store.createSession(full);
        await store.createSession(bare);
        expect(await store.getSession(full.key, Date.now())).toEqual(full);
        expect(await store.getSession(bare.key, Date.now())).toEqual(bare);
        const { rotated } = await rotatedOnce({ idp: link(token('idp-sid')) });
        expect(rotated.idp).toBeDefined();
        expect((await store.getSession(rotated.key, Date.now()))?.idp).toEqual(rotated.idp);
      });

      it('endSessionsByIdpSid ends every live session of that IdP session, across users, and nothing else', async () => {
        const idpSid = token('idp-sid');
        const a1 = newSession(alice, { idp: link(idpSid) });
        const a2 = newSession(alice, { idp: link(idpSid), createdAt: Date.now() + 1 });
        const b = newSession(bob, { idp: link(idpSid), createdAt: Date.now() + 2 });
        const otherIdpSession = newSession(alice, { idp: link(token('idp-sid')) });
        const otherIssuer = newSession(alice, { idp: { ...link(idpSid), iss: 'https://other.example.com' } });
        const password = newSession(alice);
        for (const s of [a1, a2, b, otherIdpSession, otherIssuer, password]) await store.createSession(s);

        const ended = await store.endSessionsByIdpSid(iss, idpSid, 'session_revoked', Date.now(), MINUTE);
        expect(ended.map((s) => s.sid).sort()).toEqual([a1.sid, a2.sid, b.sid].sort());
        for (const s of [a1, a2, b]) {
          expect(await store.getSession(s.key, Date.now())).toBeNull();
          expect(await store.rotate(refresh(s, current(s)))).toEqual({ outcome: 'ended', reason: 'session_revoked' });
          expect(await revocationState(store, token('jti'), s.sid, s.userId)).toMatchObject({ sidRevoked: true });
        }
        for (const s of [otherIdpSession, otherIssuer, password]) expect(await store.getSession(s.key, Date.now())).toEqual(s);
        // The index forgets ended sessions: a second logout for the same IdP session changes nothing.
        expect(await store.endSessionsByIdpSid(iss, idpSid, 'session_revoked', Date.now(), MINUTE)).toEqual([]);
      });

      it('endSessionsByIdpSid skips sessions that ended otherwise, and expired ones', async () => {
        const idpSid = token('idp-sid');
        const loggedOut = newSession(alice, { idp: link(idpSid) });
        const idle = newSession(alice, { idp: link(idpSid), idleExpiresAt: Date.now() + SHORT_TTL });
        await store.createSession(loggedOut);
        await store.createSession(idle);
        await store.endSession(loggedOut.key, 'logout', Date.now(), MINUTE);
        await sleep(PAST_SHORT_TTL);
        expect(await store.endSessionsByIdpSid(iss, idpSid, 'session_revoked', Date.now(), MINUTE)).toEqual([]);
        expect(await store.rotate(refresh(loggedOut, current(loggedOut)))).toEqual({ outcome: 'ended', reason: 'logout' });
      });

      it('updateIdpTokens replaces the IdP token fields of a live OIDC session only', async () => {
        const session = newSession(alice, { idp: link(token('idp-sid')) });
        const password = newSession(alice);
        await store.createSession(session);
        await store.createSession(password);
        const update = { refreshTokenSealed: token('rt2'), idTokenSealed: null, accessExpiresAt: Date.now() + HOUR };
        expect(await store.updateIdpTokens(session.key, update, Date.now())).toBe(true);
        expect((await store.getSession(session.key, Date.now()))?.idp).toEqual({ ...session.idp, ...update });
        expect(await store.updateIdpTokens(password.key, update, Date.now())).toBe(false);
        expect(await store.getSession(password.key, Date.now())).toEqual(password);
        await store.endSession(session.key, 'logout', Date.now(), MINUTE);
        expect(await store.updateIdpTokens(session.key, update, Date.now())).toBe(false);
        expect(await store.getSession(session.key, Date.now())).toBeNull();
        expect(await store.updateIdpTokens(newSessionKey(alice), update, Date.now())).toBe(false);
      });

      it('useOnce answers true once per id while it lives, then again after its TTL', async () => {
        const id = token('jti');
        expect(await store.useOnce(id, SHORT_TTL)).toBe(true);
        expect(await store.useOnce(id, SHORT_TTL)).toBe(false);
        expect(await store.useOnce(token('jti'), SHORT_TTL)).toBe(true);
        await sleep(PAST_SHORT_TTL);
        expect(await store.useOnce(id, MINUTE)).toBe(true);
      });

      it('login transaction store: set, get, destroy, and expiry with the cookie', async () => {
        const transactions = store.createLoginTransactionStore?.('test');
        if (!transactions) throw new Error('both stores provide a login transaction store');
        const call = <T>(fn: (cb: (error: unknown, value?: T) => void) => void) =>
          new Promise<T | undefined>((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));
        const id = token('tx');
        const data = { cookie: { originalMaxAge: SHORT_TTL, expires: new Date(Date.now() + SHORT_TTL) }, oidc: { state: 's' } };
        await call((cb) => transactions.set(id, data as never, cb));
        expect(await call((cb) => transactions.get(id, cb))).toMatchObject({ oidc: { state: 's' } });
        await call((cb) => transactions.destroy(id, cb));
        expect(await call((cb) => transactions.get(id, cb))).toBeFalsy();
        await call((cb) => transactions.set(id, data as never, cb));
        await sleep(PAST_SHORT_TTL);
        expect(await call((cb) => transactions.get(id, cb))).toBeFalsy();
      });
    });

    describe('endUserSessionBySid', () => {
      it('ends the user’s own session by its public sid', async () => {
        const session = newSession(alice);
        await store.createSession(session);

        expect(await store.endUserSessionBySid(alice, session.sid, 'session_revoked', Date.now(), MINUTE)).toEqual(session);
        expect(await store.getSession(session.key, Date.now())).toBeNull();
        expect(await revocationState(store, token('jti'), session.sid, alice)).toMatchObject({ sidRevoked: true });
        expect(await store.endUserSessionBySid(alice, session.sid, 'session_revoked', Date.now(), MINUTE)).toBeNull();
      });

      it('refuses another user’s sid and changes nothing', async () => {
        const bobs = newSession(bob);
        await store.createSession(bobs);

        expect(await store.endUserSessionBySid(alice, bobs.sid, 'session_revoked', Date.now(), MINUTE)).toBeNull();
        expect(await store.getSession(bobs.key, Date.now())).toEqual(bobs);
        expect(await store.listUserSessions(bob, Date.now())).toEqual([bobs]);
        expect(await revocationState(store, token('jti'), bobs.sid, bob)).toMatchObject({ sidRevoked: false });
      });

      it('answers null for an unknown sid', async () => {
        expect(await store.endUserSessionBySid(alice, token('sid'), 'session_revoked', Date.now(), MINUTE)).toBeNull();
      });
    });

    describe('endAllUserSessions', () => {
      it('ends every session of the user, revokes each sid, sets revoked_after, leaves other users alone', async () => {
        const now = Date.now();
        const first = newSession(alice, { createdAt: now - 2000 });
        const second = newSession(alice, { createdAt: now - 1000 });
        const bobs = newSession(bob);
        for (const s of [first, second, bobs]) await store.createSession(s);

        expect(await store.endAllUserSessions(alice, now, now, MINUTE)).toEqual([first, second]);

        expect(await store.listUserSessions(alice, now)).toEqual([]);
        for (const s of [first, second]) {
          expect(await store.rotate(refresh(s, current(s)))).toEqual({ outcome: 'ended', reason: 'session_revoked' });
          expect(await revocationState(store, token('jti'), s.sid, alice)).toEqual({
            jtiRevoked: false,
            sidRevoked: true,
            userRevokedAfter: now,
            keyRingVersion: null,
          });
        }
        expect(await store.listUserSessions(bob, now)).toEqual([bobs]);
        expect(await revocationState(store, token('jti'), bobs.sid, bob)).toEqual({
          jtiRevoked: false,
          sidRevoked: false,
          userRevokedAfter: null,
          keyRingVersion: null,
        });
      });

      it('never moves revoked_after backwards, but forwards', async () => {
        const now = Date.now();
        const state = async () => (await revocationState(store, token('jti'), token('sid'), alice)).userRevokedAfter;

        expect(await store.endAllUserSessions(alice, now, now, MINUTE)).toEqual([]);
        expect(await state()).toBe(now);
        await store.endAllUserSessions(alice, now - 5000, now, MINUTE);
        expect(await state()).toBe(now);
        await store.endAllUserSessions(alice, now + 5000, now, MINUTE);
        expect(await state()).toBe(now + 5000);
      });

      it('a session created concurrently is either ended with the rest or left untouched', async () => {
        for (let round = 0; round < 10; round++) {
          const user = token('racer');
          const existing = newSession(user, { createdAt: Date.now() - 1000 });
          await store.createSession(existing);
          const racing = newSession(user);
          const now = Date.now();
          const create = () => store.createSession(racing);
          const endAll = () => store.endAllUserSessions(user, now, now, MINUTE);
          const ended = round % 2 === 0 ? (await Promise.all([create(), endAll()]))[1] : (await Promise.all([endAll(), create()]))[0];

          expect(ended[0]).toEqual(existing);
          if (ended.length === 2) {
            expect(ended[1]).toEqual(racing);
            expect(await store.listUserSessions(user, now)).toEqual([]);
            expect(await store.rotate(refresh(racing, current(racing), { now }))).toEqual({ outcome: 'ended', reason: 'session_revoked' });
          } else {
            expect(ended).toHaveLength(1);
            expect(await store.listUserSessions(user, now)).toEqual([racing]);
            expect(await store.getSession(racing.key, now)).toEqual(racing);
            expect(await revocationState(store, token('jti'), racing.sid, user)).toMatchObject({ sidRevoked: false });
          }
        }
      });
    });

    describe('revocation state (as the log shows it)', () => {
      it('reports a revoked jti, and only that jti', async () => {
        const jti = token('jti');
        await store.revokeJti(jti, MINUTE);

        expect(await revocationState(store, jti, token('sid'), alice)).toEqual({
          jtiRevoked: true,
          sidRevoked: false,
          userRevokedAfter: null,
          keyRingVersion: null,
        });
        expect(await revocationState(store, token('jti'), token('sid'), alice)).toMatchObject({ jtiRevoked: false });
      });

      it('reports the key ring version', async () => {
        await store.putKeyRing(null, { version: 'v1', sealed: 'ring-1' });
        expect(await revocationState(store, token('jti'), token('sid'), alice)).toMatchObject({ keyRingVersion: 'v1' });
        await store.putKeyRing('v1', { version: 'v2', sealed: 'ring-2' });
        expect(await revocationState(store, token('jti'), token('sid'), alice)).toMatchObject({ keyRingVersion: 'v2' });
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
        const wins = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.putKeyRing('v1', { version: `v2-${i}`, sealed: `ring-2-${i}` })),
        );
        expect(wins.filter(Boolean)).toHaveLength(1);
        const winner = wins.indexOf(true);
        expect(await store.getKeyRing()).toEqual({ version: `v2-${winner}`, sealed: `ring-2-${winner}` });
      });
    });

    describe('expiry (real time)', () => {
      it('forgets jti, sid and user markers after their TTL', async () => {
        const jti = token('jti');
        const session = newSession(alice);
        const others = newSession(bob);
        await store.createSession(session);
        await store.createSession(others);
        await store.revokeJti(jti, SHORT_TTL);
        await store.endSession(session.key, 'logout', Date.now(), SHORT_TTL);
        await store.endAllUserSessions(bob, Date.now(), Date.now(), SHORT_TTL);

        expect(await revocationState(store, jti, session.sid, bob)).toMatchObject({
          jtiRevoked: true,
          sidRevoked: true,
          userRevokedAfter: expect.any(Number),
        });
        await sleep(PAST_SHORT_TTL);
        expect(await revocationState(store, jti, session.sid, bob)).toEqual({
          jtiRevoked: false,
          sidRevoked: false,
          userRevokedAfter: null,
          keyRingVersion: null,
        });
        expect(await revocationState(store, token('jti'), others.sid, bob)).toMatchObject({ sidRevoked: false });
      });

      it('forgets a session and its tombstone at the session’s absolute end', async () => {
        const now = Date.now();
        const short = { idleExpiresAt: now + SHORT_TTL, absoluteExpiresAt: now + SHORT_TTL };
        const untouched = newSession(alice, short);
        const ended = newSession(alice, short);
        await store.createSession(untouched);
        await store.createSession(ended);
        await store.endSession(ended.key, 'logout', now, MINUTE);
        expect(await store.rotate(refresh(ended, current(ended), { now }))).toEqual({ outcome: 'ended', reason: 'logout' });

        await sleep(PAST_SHORT_TTL);

        // Asked with the creation-time clock: only real-time expiry can explain the answers.
        expect(await store.getSession(untouched.key, now)).toBeNull();
        expect(await store.listUserSessions(alice, now)).toEqual([]);
        expect(await store.rotate(refresh(untouched, current(untouched), { now }))).toEqual({ outcome: 'ended', reason: null });
        expect(await store.rotate(refresh(ended, current(ended), { now }))).toEqual({ outcome: 'ended', reason: null });
        expect(await store.endUserSessionBySid(alice, untouched.sid, 'session_revoked', now, MINUTE)).toBeNull();
      });

      it('ignores non-positive TTLs instead of writing markers that never expire', async () => {
        const jti = token('jti');
        await store.revokeJti(jti, 0);
        expect(await revocationState(store, jti, token('sid'), alice)).toMatchObject({ jtiRevoked: false });
      });
    });

    describe('revocation log', () => {
      const readAll = async (after: string | null = null) => store.readRevocations(after, { blockMs: 0, count: 1000 });

      // A sharded log (Redis Cluster) is ordered per shard only, so order is asserted only where one shard holds it.
      it('records every kind of revocation, each with its expiry', async () => {
        const before = Date.now();
        const s1 = newSession(alice);
        await store.createSession(s1);
        await store.revokeJti('jti-1', 60_000);
        await store.endSession(s1.key, 'logout', Date.now(), 30_000);
        const s2 = newSession(bob);
        await store.createSession(s2);
        await store.endAllUserSessions(bob, 1234, Date.now(), 30_000);
        await store.putKeyRing(null, { version: 'v1', sealed: 'x' });
        const { events } = await readAll();
        const kinds = events.map((e) => [e.kind, e.id]);
        expect(kinds).toHaveLength(5);
        expect(kinds).toEqual(
          expect.arrayContaining([['jti', 'jti-1'], ['sid', s1.sid], ['sid', s2.sid], ['user', bob], ['keyring', 'v1']]),
        );
        const jti = events.find((e) => e.kind === 'jti')!;
        expect(jti.expiresAt).toBeGreaterThanOrEqual(before + 59_000);
        expect(jti.expiresAt).toBeLessThanOrEqual(Date.now() + 61_000);
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
        const before = Date.now();
        const quiet = newSession(alice);
        await store.createSession(quiet);
        expect((await readAll()).events).toEqual([]);
        const announced = newSession(alice);
        await store.createSession(announced, { logTtlMs: 30_000 });
        const { events } = await readAll();
        expect(events).toHaveLength(1);
        expect(events[0]).toMatchObject({ kind: 'session', id: announced.sid, userId: alice });
        expect(events[0]!.expiresAt).toBeGreaterThanOrEqual(before + 29_000);
        expect(events[0]!.expiresAt).toBeLessThanOrEqual(Date.now() + 31_000);
        expect(await store.getSession(announced.key, Date.now())).toEqual(announced);
      });

      it('session events expire with their TTL, like the markers they sit beside', async () => {
        await store.createSession(newSession(alice), { logTtlMs: SHORT_TTL });
        await sleep(PAST_SHORT_TTL);
        const { events } = await readAll();
        expect(events.filter((e) => e.expiresAt > Date.now())).toEqual([]);
      });

      it('sid events say whose session ended and why (logout, session_revoked, reuse_detected, logout_all)', async () => {
        const loggedOut = newSession(alice);
        const revoked = newSession(alice);
        await store.createSession(loggedOut);
        await store.createSession(revoked);
        await store.endSession(loggedOut.key, 'logout', Date.now(), 30_000);
        await store.endUserSessionBySid(alice, revoked.sid, 'session_revoked', Date.now(), 30_000);
        const { original, input } = await rotatedOnce();
        await store.rotate({ ...input, now: Date.now() + 2 * MINUTE });
        const everywhere = newSession(bob);
        await store.createSession(everywhere);
        await store.endAllUserSessions(bob, Date.now(), Date.now(), 30_000);
        const sidEvents = (await readAll()).events.filter((e) => e.kind === 'sid');
        expect(sidEvents).toHaveLength(4);
        expect(sidEvents).toEqual(
          expect.arrayContaining([
            expect.objectContaining({ id: loggedOut.sid, userId: alice, reason: 'logout' }),
            expect.objectContaining({ id: revoked.sid, userId: alice, reason: 'session_revoked' }),
            expect.objectContaining({ id: original.sid, userId: alice, reason: 'reuse_detected' }),
            expect.objectContaining({ id: everywhere.sid, userId: bob, reason: 'logout_all' }),
          ]),
        );
      });

      it('writes no event for a revocation that changes nothing', async () => {
        await store.revokeJti('expired-already', 0);
        expect(await store.endSession('no-such-key', 'logout', Date.now(), 30_000)).toBeNull();
        expect((await readAll()).events).toEqual([]);
      });
    });
  });
}
