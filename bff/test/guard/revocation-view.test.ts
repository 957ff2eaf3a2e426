import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RevocationView } from '../../src/guard/revocation-view.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { RevocationEvent } from '../../src/store/revocation-feed.js';
import { newSessionKey } from '../../src/store/session-key.js';
import type { DeviceSessionRecord } from '../../src/store/types.js';

function session(userId: string, sid: string): DeviceSessionRecord {
  const now = Date.now();
  return {
    key: newSessionKey(userId),
    sid,
    userId,
    userName: userId,
    deviceName: 'd',
    userAgent: 'ua',
    createdAt: now,
    rotatedAt: now,
    lastActivityAt: now,
    idleExpiresAt: now + 60_000,
    absoluteExpiresAt: now + 120_000,
    generation: 0,
    credentialHash: 'h',
    previousHash: null,
    successorSealed: null,
    graceUntil: 0,
  };
}

const claims = (sub: string, sid: string) => ({
  iss: 'i',
  sub,
  aud: 'a',
  sid,
  jti: 'j',
  iat: Math.floor(Date.now() / 1000),
  exp: Math.floor(Date.now() / 1000) + 60,
  client_id: 'c',
});

describe('RevocationView and the events it passes on', () => {
  const stores: MemoryStore[] = [];
  const views: RevocationView[] = [];
  afterEach(async () => {
    views.splice(0).forEach((v) => v.stop());
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  async function started() {
    const store = new MemoryStore({ warnInProduction: false });
    stores.push(store);
    // Already in the log before the view starts: replayed, never passed on.
    await store.createSession(session('u-old', 'sid-old'), { logTtlMs: 60_000 });
    const view = new RevocationView({ store, logger: pino({ level: 'silent' }), pollBlockMs: 50 });
    views.push(view);
    const seen: RevocationEvent[] = [];
    view.onEvent((event) => seen.push(event));
    await view.start();
    return { store, view, seen };
  }

  it('passes on live events once complete (never the start-up replay); a session start revokes nothing', async () => {
    const { store, view, seen } = await started();
    const s = session('u1', 'sid-1');
    await store.createSession(s, { logTtlMs: 60_000 });
    await vi.waitFor(() => expect(seen.map((e) => e.kind)).toEqual(['session']));
    expect(seen[0]).toMatchObject({ kind: 'session', id: 'sid-1', userId: 'u1' });
    expect(view.isRevoked(claims('u1', 'sid-1'))).toBe(false);
    expect(view.isSessionRevoked('sid-1', 'u1', s.createdAt)).toBe(false);
    expect(view.size).toBe(0);

    await store.endSession(s.key, 'logout', Date.now(), 60_000);
    await vi.waitFor(() => expect(seen.map((e) => e.kind)).toEqual(['session', 'sid']));
    expect(seen[1]).toMatchObject({ id: 'sid-1', userId: 'u1', reason: 'logout' });
    expect(view.isSessionRevoked('sid-1', 'u1', s.createdAt)).toBe(true);
  });

  it('isSessionRevoked: a revoked_after past the session’s start, but not a session started after it', async () => {
    const { store, view } = await started();
    const before = session('u2', 'sid-2');
    await store.createSession(before);
    const at = Date.now() + 1;
    await store.endAllUserSessions('u2', 'logout_all', at, at, 60_000);
    await vi.waitFor(() => expect(view.isSessionRevoked('sid-x', 'u2', at - 1)).toBe(true));
    expect(view.isSessionRevoked('sid-y', 'u2', at)).toBe(false);
    expect(view.isSessionRevoked('sid-2', 'u2', before.createdAt)).toBe(true);
  });

  it('the global revoked_after (revokeAllSessions): refuses every older token whoever’s, in whole seconds; a later login passes; it expires', async () => {
    const { store, view } = await started();
    const at = Date.now();
    const second = Math.floor(at / 1000);
    await store.revokeAllSessions(at, at, 1500);
    const token = (sub: string, iat: number, tenant?: string) => ({ ...claims(sub, `sid-${sub}`), jti: `j-${sub}-${iat}`, iat, ...(tenant ? { tenant } : {}) });
    await vi.waitFor(() => expect(view.isRevoked(token('anyone', second - 1))).toBe(true));
    expect(view.isRevoked(token('someone-else', second - 30, 'acme'))).toBe(true);
    // Issued in the revocation's own second (a new login right after): passes, as with the per-user marker.
    expect(view.isRevoked(token('anyone', second))).toBe(false);
    expect(view.isRevoked(token('anyone', second + 1))).toBe(false);
    expect(view.isSessionRevoked('sid-new', 'anyone', at - 1)).toBe(true);
    expect(view.isSessionRevoked('sid-new', 'anyone', at)).toBe(false);
    // It expires like every marker.
    await new Promise((resolve) => setTimeout(resolve, 1600));
    expect(view.isRevoked(token('anyone', second - 1))).toBe(false);
  });

  it('a throwing listener is logged and does not stop the view', async () => {
    const { store, view, seen } = await started();
    view.onEvent(() => {
      throw new Error('listener bug');
    });
    await store.revokeJti('j', 60_000);
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    expect(view.isRevoked(claims('u3', 'sid-3'))).toBe(true);
  });
});
