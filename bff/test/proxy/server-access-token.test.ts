import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import type { BffContext } from '../../src/context.js';
import { KeyRing } from '../../src/keys/key-ring.js';
import { ActivityLog } from '../../src/observability/activity-log.js';
import { BffMetrics } from '../../src/observability/metrics.js';
import { resolveBffOptions } from '../../src/options.js';
import { createServerAccessTokens } from '../../src/session/server-access-token.js';
import { startDeviceSession } from '../../src/session/start-device-session.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { DeviceSessionRecord } from '../../src/store/types.js';
import { ISSUER, SECRET } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

const stores: MemoryStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

async function context(clock = new TestClock()): Promise<{ ctx: BffContext; clock: TestClock }> {
  const store = new MemoryStore({ clock });
  stores.push(store);
  const options = resolveBffOptions({ store, secrets: [SECRET], tokens: { issuer: ISSUER }, clock, authenticate: async () => null });
  const keyRing = new KeyRing({
    store,
    secrets: options.secrets,
    algorithm: options.tokens.algorithm,
    retireAfterMs: 400_000,
    clock,
    self: { issuer: ISSUER, audiences: null },
  });
  await keyRing.load();
  const ctx: BffContext = Object.freeze({
    options,
    store,
    keyRing,
    logger: pino({ level: 'silent' }),
    metrics: new BffMetrics(),
    activity: new ActivityLog(() => clock.now()),
    now: () => clock.now(),
    markerTtlMs: 400_000,
  });
  return { ctx, clock };
}

async function newSession(ctx: BffContext): Promise<DeviceSessionRecord> {
  const { session } = await startDeviceSession(ctx, { cookieHeader: undefined, userAgent: 'test', ip: '127.0.0.1' }, { id: 'user-alice', name: 'Alice' });
  return session;
}

describe('server-side access tokens per device session', () => {
  it('signs once per session and reuses the token until it nears expiry, even under concurrent calls', async () => {
    const { ctx, clock } = await context();
    const tokens = createServerAccessTokens(ctx, { isRevoked: () => false });
    const session = await newSession(ctx);
    const first = await Promise.all(Array.from({ length: 20 }, () => tokens.get(session)));
    expect(new Set(first.map((t) => t.jti)).size).toBe(1);
    const claims = decodeJwt(first[0]!.token);
    expect(claims).toMatchObject({ sub: 'user-alice', sid: session.sid, iss: ISSUER });
    // 300 s tokens: reused until 30 s are left.
    clock.advance(269_000);
    expect((await tokens.get(session)).jti).toBe(first[0]!.jti);
    clock.advance(2_000);
    const renewed = await tokens.get(session);
    expect(renewed.jti).not.toBe(first[0]!.jti);
    expect(renewed.expiresAt).toBeGreaterThan(first[0]!.expiresAt);
    expect(tokens.size).toBe(1);
  });

  it('never gives a token to a session the revocation view knows ended, and drops its entry', async () => {
    const { ctx } = await context();
    const revoked = new Set<string>();
    const tokens = createServerAccessTokens(ctx, { isRevoked: (s) => revoked.has(s.sid) });
    const session = await newSession(ctx);
    await tokens.get(session);
    revoked.add(session.sid);
    await expect(tokens.get(session)).rejects.toMatchObject({ code: 'session_revoked' });
    expect(tokens.size).toBe(0);
  });

  it('never gives a token to a session past its idle or absolute end', async () => {
    const { ctx, clock } = await context();
    const tokens = createServerAccessTokens(ctx, { isRevoked: () => false });
    const session = await newSession(ctx);
    clock.advance(session.idleExpiresAt - clock.now());
    await expect(tokens.get(session)).rejects.toMatchObject({ code: 'session_expired' });
  });

  it('forgets entries on the revocation events that end their session, user, tenant or key', async () => {
    const { ctx } = await context();
    const tokens = createServerAccessTokens(ctx, { isRevoked: () => false });
    const a = await newSession(ctx);
    const b = await newSession(ctx);
    const first = await tokens.get(a);
    await tokens.get(b);
    tokens.onRevocationEvent({ kind: 'sid', id: a.sid, expiresAt: 0, at: 0 });
    expect(tokens.size).toBe(1);
    expect((await tokens.get(a)).jti).not.toBe(first.jti);
    tokens.onRevocationEvent({ kind: 'user', id: 'user-alice', revokedAfter: 0, expiresAt: 0, at: 0 });
    expect(tokens.size).toBe(0);
    await tokens.get(a);
    tokens.onRevocationEvent({ kind: 'keyring', id: '2', expiresAt: 0, at: 0 });
    expect(tokens.size).toBe(0);
    // A session start is not a revocation.
    await tokens.get(a);
    tokens.onRevocationEvent({ kind: 'session', id: b.sid, userId: 'user-alice', expiresAt: 0, at: 0 });
    expect(tokens.size).toBe(1);
  });

  it('holds at most maxEntries tokens, the oldest going first', async () => {
    const { ctx } = await context();
    const tokens = createServerAccessTokens(ctx, { isRevoked: () => false, maxEntries: 2 });
    const sessions = [await newSession(ctx), await newSession(ctx), await newSession(ctx)];
    const first = await tokens.get(sessions[0]!);
    await tokens.get(sessions[1]!);
    await tokens.get(sessions[2]!);
    expect(tokens.size).toBe(2);
    expect((await tokens.get(sessions[0]!)).jti).not.toBe(first.jti);
  });
});

describe('server access tokens and re-authentication', () => {
  it('a cached token is not reused once the session was re-authenticated: the next one carries the new auth_time', async () => {
    const { ctx, clock } = await context();
    const tokens = createServerAccessTokens(ctx, { isRevoked: () => false });
    const session = await newSession(ctx);
    const first = await tokens.get(session);
    expect(await tokens.get(session)).toBe(first);
    clock.advance(10_000);
    const restamped = await ctx.store.restampSession(session.userId, session.sid, { authTime: clock.now(), amr: ['pwd'] }, clock.now());
    const next = await tokens.get(restamped!);
    expect(next).not.toBe(first);
    expect(decodeJwt(next.token).auth_time).toBe(Math.floor(clock.now() / 1000));
    expect(decodeJwt(first.token).auth_time).toBe(Math.floor((clock.now() - 10_000) / 1000));
  });
});
