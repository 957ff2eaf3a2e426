import { KeyObject, sign } from 'node:crypto';
import type { SigningAlgorithm } from '../keys/signing-key.js';
import { lowS } from './ecdsa-low-s.js';

/** A key of the ring as signing needs it. */
export interface JwsSigningKey {
  alg: SigningAlgorithm;
  privateKey: CryptoKey;
}

/** What each algorithm's key must be (node:crypto names), checked once per key: a key never signs under another algorithm. */
const KEY_TYPE: Record<SigningAlgorithm, { type: string; curve?: string }> = {
  ES256: { type: 'ec', curve: 'prime256v1' },
  EdDSA: { type: 'ed25519' },
};

/** Each ring key as node:crypto's key, with the algorithm it was checked for. */
const keyObjects = new WeakMap<CryptoKey, { alg: SigningAlgorithm; keyObject: KeyObject }>();

function keyObjectOf(key: JwsSigningKey): KeyObject {
  const known = keyObjects.get(key.privateKey);
  if (known?.alg === key.alg) return known.keyObject;
  const keyObject = KeyObject.from(key.privateKey);
  const expected = KEY_TYPE[key.alg];
  if (keyObject.type !== 'private' || keyObject.asymmetricKeyType !== expected.type || keyObject.asymmetricKeyDetails?.namedCurve !== expected.curve) {
    throw new TypeError(`the signing key is not a private ${key.alg} key`);
  }
  keyObjects.set(key.privateKey, { alg: key.alg, keyObject });
  return keyObject;
}

const base64url = (json: unknown): string => Buffer.from(JSON.stringify(json)).toString('base64url');

/**
 * A compact JWS (RFC 7515 §7.1) of `payload` as JSON, signed with node:crypto: the same token jose's `SignJWT` makes,
 * without its WebCrypto round trip, which costs twice the signature itself on every login and refresh. ES256
 * signatures are r || s (RFC 7518 §3.4) in their low-S form (ecdsa-low-s.ts); EdDSA is Ed25519 (RFC 8037).
 */
export function signCompactJws(header: Readonly<Record<string, unknown>>, payload: Readonly<Record<string, unknown>>, key: JwsSigningKey): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  const keyObject = keyObjectOf(key);
  const signature =
    key.alg === 'ES256' ? lowS(sign('sha256', Buffer.from(input), { key: keyObject, dsaEncoding: 'ieee-p1363' })) : sign(null, Buffer.from(input), keyObject);
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}
