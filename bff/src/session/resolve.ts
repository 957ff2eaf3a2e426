import type { BffContext } from '../context.js';
import { sha256 } from '../crypto/hash.js';
import type { SessionCookieValue } from '../crypto/session-cookie-value.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { readSessionCookie } from './cookie.js';
import { credentialStanding } from './credential-rule.js';

export interface ResolvedSession {
  session: DeviceSessionRecord;
  cookie: SessionCookieValue;
}

/**
 * The live device session a `Cookie` header's credential holds, without rotating or changing anything (one store
 * read): the current credential, or the previous one within the rotation grace (a tab that has not yet seen the
 * newest cookie). Null for anything else: no cookie, a forged one, an ended session, a superseded credential (only
 * a rotation, which can end the session, acts on theft).
 */
export async function resolveSession(ctx: BffContext, cookieHeader: string | undefined | null): Promise<ResolvedSession | null> {
  const cookie = readSessionCookie(ctx, cookieHeader);
  if (cookie === null) return null;
  const now = ctx.now();
  const session = await ctx.store.getSession(cookie.key, now);
  if (session === null) return null;
  const standing = credentialStanding(session, { generation: cookie.generation, credentialHash: sha256(cookie.secret) }, now);
  return standing === 'current' || standing === 'previous' ? { session, cookie } : null;
}

/** resolveSession for routes that act on the caller's session without rotating it (logout-all, the session list): `no_session` otherwise. */
export async function requireSession(ctx: BffContext, cookieHeader: string | undefined | null): Promise<ResolvedSession> {
  const resolved = await resolveSession(ctx, cookieHeader);
  if (resolved === null) throw new LatchkeyError('no_session');
  return resolved;
}
