import type { Request } from 'express';
import type { BffContext } from '../context.js';
import { sha256 } from '../crypto/hash.js';
import { decodeSessionCookie, type SessionCookieValue } from '../crypto/session-cookie-value.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { readCookie } from './session-cookie.js';

/** The signed session cookie, decoded; null when absent, malformed, or not signed by any of our secrets. */
export function readSessionCookie(ctx: BffContext, req: Request): SessionCookieValue | null {
  const raw = readCookie(req, ctx.options.cookieName);
  return raw === undefined ? null : decodeSessionCookie(raw, ctx.options.secrets);
}

/**
 * The caller's live device session, for routes that act on it without rotating (logout-all, the session list).
 * Accepts the current credential, and the previous one within the rotation grace (a tab that has not yet seen the
 * newest cookie); anything else is `no_session`.
 */
export async function requireSession(ctx: BffContext, req: Request): Promise<{ session: DeviceSessionRecord; cookie: SessionCookieValue }> {
  const cookie = readSessionCookie(ctx, req);
  if (cookie === null) throw new LatchkeyError('no_session');
  const now = ctx.now();
  const session = await ctx.store.getSession(cookie.key, now);
  if (session === null) throw new LatchkeyError('no_session');
  const hash = sha256(cookie.secret);
  const current = cookie.generation === session.generation && hash === session.credentialHash;
  const previous = cookie.generation === session.generation - 1 && hash === session.previousHash && now < session.graceUntil;
  if (!current && !previous) throw new LatchkeyError('no_session');
  return { session, cookie };
}
