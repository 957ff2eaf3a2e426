import { parse, serialize } from 'cookie';
import type { Request, Response } from 'express';

export interface CookieSettings {
  cookieName: string;
  cookie: Readonly<{ secure: boolean; sameSite: 'strict'; httpOnly: true; path: '/' }>;
}

/** Reads one cookie straight from the header (no cookie-parser: the value is HMAC-checked by the caller). */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined || header.length > 8192) return undefined;
  return parse(header)[name];
}

/**
 * `<session cookie name>-hint=1`, set and cleared with the session cookie: readable by the page (not HttpOnly) and
 * holding no secret, it only says that a session cookie may exist. Without it the client skips its start-up refresh,
 * which could only answer 401 (a failed request browsers log as a console error on every anonymous visit).
 */
export const hintCookieName = (cookieName: string): string => `${cookieName}-hint`;

/** `now`: the BFF's clock, the one `expiresAt` was computed with. */
export function setSessionCookie(res: Response, settings: CookieSettings, value: string, expiresAt: number, now: number): void {
  const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000));
  res.append('Set-Cookie', serialize(settings.cookieName, value, { ...settings.cookie, maxAge }));
  res.append('Set-Cookie', serialize(hintCookieName(settings.cookieName), '1', { ...settings.cookie, httpOnly: false, maxAge }));
}

export function clearSessionCookie(res: Response, settings: CookieSettings): void {
  const cleared = { ...settings.cookie, maxAge: 0, expires: new Date(0) };
  res.append('Set-Cookie', serialize(settings.cookieName, '', cleared));
  res.append('Set-Cookie', serialize(hintCookieName(settings.cookieName), '', { ...cleared, httpOnly: false }));
}
