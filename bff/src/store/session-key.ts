import { createHash } from 'node:crypto';
import { randomToken } from '../crypto/random.js';

/**
 * A device session's private key: `<user tag><128 random bits>`, the tag being the first 8 hex digits of
 * SHA-256(userId). The cookie carries only the key, yet a refresh must land on the Redis Cluster slot that holds
 * the user's other sessions (logout-all ends them all in one script); the tag lets the store find that slot from
 * the key alone. Stores refuse a session whose key was not made for its user.
 */
const KEY_FORMAT = /^[0-9a-f]{8}[A-Za-z0-9_-]{22}$/;

/** 32 bits of SHA-256(value) as 8 hex digits: where a user's (or a jti's) entries live, never a secret. */
export function userTag(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 8);
}

export function newSessionKey(userId: string): string {
  return userTag(userId) + randomToken(16);
}

/** The tag a well-formed key carries, or null for anything else (such a key names no session). */
export function sessionKeyTag(key: string): string | null {
  return KEY_FORMAT.test(key) ? key.slice(0, 8) : null;
}

/** True when `key` is well formed and was made for `userId`. */
export function isSessionKeyOf(key: string, userId: string): boolean {
  return sessionKeyTag(key) === userTag(userId);
}

/** What every store checks before it writes a session: a key made by newSessionKey for this very user. */
export function assertSessionKeyOf(session: { key: string; userId: string }): void {
  if (!isSessionKeyOf(session.key, session.userId)) throw new TypeError('session.key must come from newSessionKey(userId)');
}
