import type { SigningKeyDescription } from '@latchkey/shared';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { randomToken } from '../crypto/random.js';

export type SigningAlgorithm = 'ES256' | 'EdDSA';

/**
 * One key of the ring.
 * - `staged`: published in the JWKS, not yet signing (so caches learn it before first use);
 * - `active`: signs new tokens (exactly one);
 * - `retired`: no longer signs, still verifies until `retireAfter` (every token it signed has expired).
 */
export type KeyState = SigningKeyDescription['state'];

export interface StoredSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  state: KeyState;
  createdAt: number;
  retireAfter: number | null;
  privateJwk: JWK;
}

export interface LoadedSigningKey extends StoredSigningKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export async function generateSigningKey(alg: SigningAlgorithm, state: KeyState, now: number): Promise<StoredSigningKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  return { kid: randomToken(12), alg, state, createdAt: now, retireAfter: null, privateJwk };
}

/** Public members only: what the JWKS may show. */
export function toPublicJwk(jwk: JWK): JWK {
  const { kty, crv, x, y } = jwk;
  return Object.fromEntries(Object.entries({ kty, crv, x, y }).filter(([, v]) => v !== undefined)) as JWK;
}

export async function loadSigningKey(stored: StoredSigningKey): Promise<LoadedSigningKey> {
  const publicJwk = { ...toPublicJwk(stored.privateJwk), kid: stored.kid, alg: stored.alg, use: 'sig' };
  const [privateKey, publicKey] = await Promise.all([
    importJWK(stored.privateJwk, stored.alg) as Promise<CryptoKey>,
    importJWK(publicJwk, stored.alg) as Promise<CryptoKey>,
  ]);
  return { ...stored, privateKey, publicKey, publicJwk };
}
