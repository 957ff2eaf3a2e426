import { parse, serialize } from 'cookie';
import type { BffContext } from '../context.js';
import type { ResolvedBffOptions } from '../options.js';
import { decodeSessionCookie, encodeSessionCookie, type SessionCookieValue } from '../crypto/session-cookie-value.js';

/** What the BFF's cookies are named and set with (the resolved options' `cookie`). */
export type CookieSettings = ResolvedBffOptions['cookie'];

/** Cookie headers longer than this are not parsed (no legitimate browser sends one: 8 KB is the common server cap). */
const MAX_COOKIE_HEADER = 8192;

/** One cookie straight from a `Cookie` header (no cookie-parser: the value is HMAC-checked by the caller). */
export function readCookie(header: string | undefined | null, name: string): string | undefined {
  if (header === undefined || header === null || header.length > MAX_COOKIE_HEADER) return undefined;
  return parse(header)[name];
}

/** The signed session cookie of a `Cookie` header, decoded; null when absent, malformed, or not signed by any of our secrets. */
export function readSessionCookie(ctx: BffContext, cookieHeader: string | undefined | null): SessionCookieValue | null {
  const raw = readCookie(cookieHeader, ctx.options.cookie.name);
  return raw === undefined ? null : decodeSessionCookie(raw, ctx.options.secrets);
}

/**
 * `<session cookie name>-hint=1`, set and cleared with the session cookie: readable by the page (not HttpOnly) and
 * holding no secret, it only says that a session cookie may exist. Without it the client skips its start-up refresh,
 * which could only answer 401 (a failed request browsers log as a console error on every anonymous visit).
 */
export const hintCookieName = (cookieName: string): string => `${cookieName}-hint`;

/**
 * The `Set-Cookie` lines for a session's credential (the session cookie first, then its hint cookie), living until
 * the session's absolute end on the BFF's clock (the one `absoluteExpiresAt` was computed with).
 */
export function sessionCookieHeaders(
  ctx: BffContext,
  session: { key: string; absoluteExpiresAt: number },
  cookie: { generation: number; secret: string },
): string[] {
  const { name, attributes } = ctx.options.cookie;
  const value = encodeSessionCookie({ key: session.key, generation: cookie.generation, secret: cookie.secret }, ctx.options.secrets);
  const maxAge = Math.max(0, Math.floor((session.absoluteExpiresAt - ctx.now()) / 1000));
  return [serialize(name, value, { ...attributes, maxAge }), serialize(hintCookieName(name), '1', { ...attributes, httpOnly: false, maxAge })];
}

/** The `Set-Cookie` lines that remove the session cookie and its hint cookie. */
export function clearedSessionCookieHeaders(ctx: BffContext): string[] {
  const { name, attributes } = ctx.options.cookie;
  const cleared = { ...attributes, maxAge: 0, expires: new Date(0) };
  return [serialize(name, '', cleared), serialize(hintCookieName(name), '', { ...cleared, httpOnly: false })];
}
