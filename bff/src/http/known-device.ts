import { createHmac, timingSafeEqual } from 'node:crypto';
import { serialize } from 'cookie';
import { randomToken } from '../crypto/random.js';
import { readCookie, type CookieSettings } from '../session/cookie.js';

/**
 * The device cookie of OWASP's "Slow Down Online Guessing Attacks with Device Cookies": set by a successful password
 * login, it marks the browser as one the account's owner used. A login from a known device is limited by its own
 * failure counter instead of the account's, so guessing from many addresses (which fills the account's) cannot lock
 * the owner's own devices out. It carries no authority: it never signs anyone in, only chooses the counter.
 *
 * Value `d1.<nonce>.<mac>`: mac = HMAC-SHA256(secret, nonce and the lower-cased username), so the cookie names no
 * account (it is checked against the username a login types) and only this deployment can make one. Signed with the
 * first secret, accepted under any (rotation).
 */
const FORMAT = /^d1\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const MAX_VALUE_LENGTH = 128;

/** Re-issued by every successful login, so a device in use keeps it; under the 400 days browsers cap cookies at. */
export const KNOWN_DEVICE_TTL_SECONDS = 180 * 24 * 3600;

/** `<session cookie name>-device`: keeps the `__Host-` prefix (and its guarantees) when the session cookie has it. */
export const deviceCookieName = (cookieName: string): string => `${cookieName}-device`;

const mac = (secret: string, nonce: string, username: string): Buffer =>
  createHmac('sha256', secret).update(`latchkey device\n${nonce}\n${username.toLowerCase()}`).digest();

/**
 * The nonce of the request's device cookie when it was issued for `username` (in any letter case), else null: no
 * cookie, a malformed or forged one, or one of another account.
 */
export function knownDevice(cookieHeader: string | undefined, settings: CookieSettings, secrets: readonly string[], username: string): string | null {
  const raw = readCookie(cookieHeader, deviceCookieName(settings.name));
  if (raw === undefined || raw.length > MAX_VALUE_LENGTH) return null;
  const match = FORMAT.exec(raw);
  if (!match) return null;
  const nonce = match[1]!;
  const presented = Buffer.from(match[2]!, 'base64url');
  for (const secret of secrets) {
    if (timingSafeEqual(presented, mac(secret, nonce, username))) return nonce;
  }
  return null;
}

/** The `Set-Cookie` line of a new device cookie for `username` (a new nonce: a device whose old cookie had its failures counted starts afresh). */
export function deviceCookieHeader(settings: CookieSettings, secrets: readonly string[], username: string): string {
  const nonce = randomToken(16);
  const value = `d1.${nonce}.${mac(secrets[0]!, nonce, username).toString('base64url')}`;
  return serialize(deviceCookieName(settings.name), value, { ...settings.attributes, maxAge: KNOWN_DEVICE_TTL_SECONDS });
}
