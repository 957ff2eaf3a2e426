import { createHash } from 'node:crypto';

/** SHA-256, base64url. Credentials are high-entropy random values, so a plain hash (no salt, no KDF) is enough. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
