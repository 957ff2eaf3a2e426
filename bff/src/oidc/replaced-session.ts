import type { BffContext } from '../context.js';
import { sha256 } from '../crypto/hash.js';
import type { SessionCookieValue } from '../crypto/session-cookie-value.js';

/** The device session an OIDC sign-in replaces: recorded at `/oidc/login`, ended by the callback. Public ids only. */
export interface ReplacedSession {
  userId: string;
  sid: string;
}

/**
 * At `/oidc/login` (a same-site navigation: the SameSite=Strict session cookie still comes along), the session this
 * browser holds, when its cookie is that session's current credential (or the previous one within the grace window):
 * only the holder of the credential may end it. The callback cannot see the cookie itself (it is a navigation from the
 * IdP's site, which carries no Strict cookie), so the login transaction remembers it (ASVS 7.2.4: a new sign-in ends
 * the browser's previous session).
 */
export async function sessionToReplace(ctx: BffContext, cookie: SessionCookieValue | null): Promise<ReplacedSession | undefined> {
  if (cookie === null) return undefined;
  const now = ctx.now();
  const session = await ctx.store.getSession(cookie.key, now);
  if (session === null) return undefined;
  const hash = sha256(cookie.secret);
  const current = cookie.generation === session.generation && hash === session.credentialHash;
  const previous = cookie.generation === session.generation - 1 && hash === session.previousHash && now < session.graceUntil;
  return current || previous ? { userId: session.userId, sid: session.sid } : undefined;
}

/** In the callback, once the sign-in has succeeded: ends the recorded session (whoever's it was: a browser may switch accounts). */
export async function endReplacedSession(ctx: BffContext, replaced: ReplacedSession, by: { userId: string; ip: string | undefined }): Promise<void> {
  const ended = await ctx.store.endUserSessionBySid(replaced.userId, replaced.sid, 'logout', ctx.now(), ctx.markerTtlMs);
  if (ended === null) return;
  ctx.metrics.logouts.inc({ scope: 'device' });
  ctx.logger.info({ event: 'session_replaced', ip: by.ip, userId: ended.userId, sid: ended.sid, by: by.userId }, 'sign-in ended the session this browser had');
}
