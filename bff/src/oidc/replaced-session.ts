import type { BffContext } from '../context.js';
import { endSessions } from '../session/end.js';
import { resolveSession } from '../session/resolve.js';

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
export async function sessionToReplace(ctx: BffContext, cookieHeader: string | undefined): Promise<ReplacedSession | undefined> {
  const resolved = await resolveSession(ctx, cookieHeader);
  return resolved === null ? undefined : { userId: resolved.session.userId, sid: resolved.session.sid };
}

/** In the callback, once the sign-in has succeeded: ends the recorded session (whoever's it was: a browser may switch accounts). */
export async function endReplacedSession(ctx: BffContext, replaced: ReplacedSession, by: { userId: string; ip: string | undefined }): Promise<void> {
  await endSessions(
    ctx,
    { userId: replaced.userId, sid: replaced.sid },
    { reason: 'replaced', event: 'session_replaced', message: 'sign-in ended the session this browser had', fields: { ip: by.ip, by: by.userId } },
  );
}
