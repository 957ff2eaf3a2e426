import type { BffContext } from '../context.js';
import type { SessionCookieValue } from '../crypto/session-cookie-value.js';
import { sha256 } from '../crypto/hash.js';
import { randomToken } from '../crypto/random.js';
import { seal, unseal } from '../crypto/seal.js';
import type { DeviceSessionRecord, RotateResult } from '../store/types.js';
import { endSessions } from './end.js';

/** Binds a sealed successor to its role, so it cannot be opened as anything else. */
export const SUCCESSOR_SEAL_INFO = 'latchkey successor credential v1';

/**
 * Presents a cookie to the store's atomic rotation, which applies the credential rule (credential-rule.ts) to it:
 * current (rotated), previous within the grace window with an unused successor (replayed), superseded (theft: the
 * store has already ended the session and revoked its sid), gone, or not ours. Returns the result and the successor
 * secret generated and sealed here (used only when the outcome is `rotated`).
 */
export async function rotateCookie(
  ctx: BffContext,
  cookie: SessionCookieValue,
  activityAt: number | 'unchanged',
): Promise<{ result: RotateResult; nextSecret: string }> {
  const nextSecret = randomToken(32);
  const now = ctx.now();
  const result = await ctx.store.rotate({
    key: cookie.key,
    generation: cookie.generation,
    credentialHash: sha256(cookie.secret),
    nextCredentialHash: sha256(nextSecret),
    nextSealed: seal(nextSecret, cookie.secret, SUCCESSOR_SEAL_INFO),
    now,
    // 'unchanged': a rotation that is no activity of the user's (GET /session, a sign-in ending the old session).
    activityAt: activityAt === 'unchanged' ? 0 : activityAt,
    idleTimeoutMs: ctx.options.session.idleTimeoutSeconds * 1000,
    graceMs: ctx.options.session.rotationGraceSeconds * 1000,
    markerTtlMs: ctx.markerTtlMs,
  });
  return { result, nextSecret };
}

/** The successor a replay answers with, opened with the presented (previous) secret; null when it cannot be opened. */
export function replayedSuccessor(sealed: string, presented: SessionCookieValue): string | null {
  return unseal(sealed, presented.secret, SUCCESSOR_SEAL_INFO);
}

/** Logs and counts a theft detection (the store has revoked the session already). `ip`: the client address, for the log. */
export async function reportTheft(
  ctx: BffContext,
  ip: string | undefined,
  session: DeviceSessionRecord,
  cookie: SessionCookieValue,
  route: string,
): Promise<void> {
  ctx.metrics.theftDetections.inc();
  await endSessions(
    ctx,
    { alreadyEnded: [session] },
    {
      reason: 'reuse_detected',
      level: 'warn',
      event: 'theft_detected',
      message: 'superseded refresh credential presented; device session revoked',
      fields: { route, ip, presentedGeneration: cookie.generation, currentGeneration: session.generation },
    },
  );
}

/** Counts and logs a session a rotation found past its idle or absolute end (the store has ended it already). */
export async function reportExpiry(ctx: BffContext, session: DeviceSessionRecord, reason: 'idle' | 'absolute', route: string): Promise<void> {
  await endSessions(
    ctx,
    { alreadyEnded: [session] },
    {
      reason,
      event: 'session_expired',
      message: reason === 'idle' ? 'device session ended: no activity within the idle timeout' : 'device session ended: absolute lifetime reached',
      fields: { route, lastActivityAt: session.lastActivityAt },
    },
  );
}
