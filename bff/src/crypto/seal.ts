import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM under a key derived (HKDF-SHA256) from a secret. Used twice:
 * - the successor credential is sealed under its predecessor, so a retried or concurrent refresh can be
 *   answered with the same successor while the store alone cannot produce a working cookie;
 * - the key ring is sealed under the deployment secret before it goes to the shared store.
 */
function deriveKey(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'latchkey', info, 32));
}

export function seal(plaintext: string, secret: string, info: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(secret, info), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [iv, body, cipher.getAuthTag()].map((b) => b.toString('base64url')).join('.');
}

/** Returns null when the value was not sealed under this secret or was altered. */
export function unseal(sealed: string, secret: string, info: string): string | null {
  const parts = sealed.split('.');
  if (parts.length !== 3) return null;
  const [iv, body, tag] = parts.map((p) => Buffer.from(p, 'base64url')) as [Buffer, Buffer, Buffer];
  try {
    const decipher = createDecipheriv('aes-256-gcm', deriveKey(secret, info), iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

/** Tries every secret (newest first), so secrets can be rotated without breaking what the old one sealed. */
export function unsealWithAny(sealed: string, secrets: readonly string[], info: string): string | null {
  for (const secret of secrets) {
    const plaintext = unseal(sealed, secret, info);
    if (plaintext !== null) return plaintext;
  }
  return null;
}
