import { randomBytes } from 'node:crypto';

/** `bytes` random bytes as base64url. 16 bytes = 128 bits, the floor for anything that must not be guessed. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}
