import signature from 'cookie-signature';

/**
 * The session cookie's value: `v1.<key>.<generation>.<secret>`, HMAC-signed (cookie-signature, as express-session
 * signs its ids) with the first of the deployment secrets and accepted under any of them.
 *
 * - `key` is the device session's private id (never shown to JavaScript; the public handle is `sid`).
 * - `secret` is this generation's refresh credential (256 random bits); the store keeps only its hash.
 * - The signature proves the BFF issued the value, so a well-signed cookie of an old generation is a superseded
 *   credential (theft), never a guess.
 */
export interface SessionCookieValue {
  key: string;
  generation: number;
  secret: string;
}

const FORMAT = /^v1\.([A-Za-z0-9_-]{16,64})\.(\d{1,9})\.([A-Za-z0-9_-]{32,128})$/;
/** Longer values are rejected before any parsing or HMAC work. */
export const MAX_COOKIE_VALUE_LENGTH = 512;

export function encodeSessionCookie(value: SessionCookieValue, secrets: readonly string[]): string {
  const first = secrets[0];
  if (first === undefined) throw new Error('encodeSessionCookie needs at least one secret');
  return signature.sign(`v1.${value.key}.${value.generation}.${value.secret}`, first);
}

export function decodeSessionCookie(raw: string, secrets: readonly string[]): SessionCookieValue | null {
  if (raw.length > MAX_COOKIE_VALUE_LENGTH) return null;
  for (const secret of secrets) {
    const unsigned = signature.unsign(raw, secret);
    if (unsigned === false) continue;
    const match = FORMAT.exec(unsigned);
    if (!match) return null;
    return { key: match[1]!, generation: Number(match[2]), secret: match[3]! };
  }
  return null;
}
