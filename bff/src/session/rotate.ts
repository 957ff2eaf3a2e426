import type { BffContext } from '../context.js';
import type { SessionCookieValue } from '../crypto/session-cookie-value.js';
import { sha256 } from '../crypto/hash.js';
import { randomToken } from '../crypto/random.js';
import { seal, unseal } from '../crypto/seal.js';
import type { DeviceSessionRecord, RotateResult } from '../store/types.js';

/** Binds a sealed successor to its role, so it cannot be opened as anything else. */
export const SUCCESSOR_SEAL_INFO = 'latchkey successor credential v1';

/**
 * Presents a cookie to the store's atomic rotation, which applies the credential rule (credential-rule.ts) to it:
 * current (rotated), previous within the grace window with an unused successor (replayed), superseded (theft: the
 * store has already ended the session and revoked its sid), gone, or not ours. Returns the result and the successor
 * secret generated and sealed here (used only when the outcome is `rotated`).
 */
export async function rotateCookie(ctx: BffContext, cookie: SessionCookieValue): Promise<{ result: RotateResult; nextSecret: string }> {
  const nextSecret = randomToken(32);
  const result = await ctx.store.rotate({
    key: cookie.key,
    generation: cookie.generation,
    credentialHash: sha256(cookie.secret),
    nextCredentialHash: sha256(nextSecret),
    nextSealed: seal(nextSecret, cookie.secret, SUCCESSOR_SEAL_INFO),
    now: ctx.now(),
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
export function reportTheft(ctx: BffContext, ip: string | undefined, session: DeviceSessionRecord, cookie: SessionCookieValue, route: string): void {
  ctx.metrics.theftDetections.inc();
  ctx.sessionsEnded?.([session]);
  ctx.logger.warn(
    {
      event: 'theft_detected',
      route,
      ip,
      userId: session.userId,
      sid: session.sid,
      presentedGeneration: cookie.generation,
      currentGeneration: session.generation,
    },
    'superseded refresh credential presented; device session revoked',
  );
}
