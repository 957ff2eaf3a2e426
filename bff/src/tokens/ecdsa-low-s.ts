/**
 * ECDSA signatures are malleable: if (r, s) verifies, so does (r, n - s). Two spellings of one token would be two
 * verified-token cache entries and two strings for anything keyed on the token. Like Bitcoin (BIP 62) and
 * Ethereum (EIP-2), Latchkey accepts only the low-S form for ES256: it issues low-S signatures (OpenSSL picks
 * either half at random) and refuses high-S ones before verifying.
 */

/** The order of P-256 (FIPS 186-4 D.1.2.3) and its half. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P256_HALF_N = P256_N >> 1n;

/** ES256 signatures in JWS are r || s, 32 bytes each (RFC 7518 §3.4). */
const ES256_SIGNATURE_BYTES = 64;

function readS(signature: Uint8Array): bigint {
  return BigInt('0x' + Buffer.from(signature.subarray(32)).toString('hex'));
}

/** True for an ES256 signature whose s lies in the upper half of the group order (or a signature of the wrong length). */
export function isHighS(signature: Uint8Array): boolean {
  return signature.length !== ES256_SIGNATURE_BYTES || readS(signature) > P256_HALF_N;
}

/** The low-S twin of an ES256 signature (r || s): the same bytes when s is already low, else r || (n - s). */
export function lowS(signature: Uint8Array): Uint8Array {
  if (signature.length !== ES256_SIGNATURE_BYTES) throw new TypeError('not an ES256 signature');
  const s = readS(signature);
  if (s <= P256_HALF_N) return signature;
  const low = Buffer.from((P256_N - s).toString(16).padStart(64, '0'), 'hex');
  return Buffer.concat([signature.subarray(0, 32), low]);
}
