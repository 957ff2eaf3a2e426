import { parse, serialize } from 'cookie';
import type { BffContext } from '../context.js';
import { decodeSessionCookie, encodeSessionCookie, type SessionCookieValue } from '../crypto/session-cookie-value.js';

/** What the BFF's cookies are named and set with (the resolved options carry both). */
export interface CookieSettings {
  cookieName: string;
  cookie: Readonly<{ secure: boolean; sameSite: 'strict'; httpOnly: true; path: '/' }>;
}

/** Cookie headers longer than this are not parsed (no legitimate browser sends one: 8 KB is the common server cap). */
const MAX_COOKIE_HEADER = 8192;

/** One cookie straight from a `Cookie` header (no cookie-parser: the value is HMAC-checked by the caller). */
export function readCookie(header: string | undefined | null, name: string): string | undefined {
  if (header === undefined || header === null || header.length > MAX_COOKIE_HEADER) return undefined;
  return parse(header)[name];
}

/** The signed session cookie of a `Cookie` header, decoded; null when absent, malformed, or not signed by any of our secrets. */
export function readSessionCookie(ctx: BffContext, cookieHeader: string | undefined | null): SessionCookieValue | null {
  const raw = readCookie(cookieHeader, ctx.options.cookieName);
  return raw === undefined ? null : decodeSessionCookie(raw, ctx.options.secrets);
}

/**
 * The `Set-Cookie` line for a session's credential, living until the session's absolute end on the BFF's clock (the
 * one `absoluteExpiresAt` was computed with).
 */
export function sessionCookieHeader(
  ctx: BffContext,
  session: { key: string; absoluteExpiresAt: number },
  cookie: { generation: number; secret: string },
): string {
  const { options } = ctx;
  const value = encodeSessionCookie({ key: session.key, generation: cookie.generation, secret: cookie.secret }, options.secrets);
  const maxAge = Math.max(0, Math.floor((session.absoluteExpiresAt - ctx.now()) / 1000));
  return serialize(options.cookieName, value, { ...options.cookie, maxAge });
}

/** The `Set-Cookie` line that removes the session cookie. */
export function clearedSessionCookieHeader(ctx: BffContext): string {
  return serialize(ctx.options.cookieName, '', { ...ctx.options.cookie, maxAge: 0, expires: new Date(0) });
}
