import { lowS } from '../../src/tokens/ecdsa-low-s.js';

/**
 * The low-S twin of a compact ES256 JWS: the same token when s is already low, else with s replaced by n - s. For tests
 * that sign their own tokens with jose (OpenSSL picks either half), which the guard must accept as Latchkey's.
 */
export function toLowS(jws: string): string {
  const dot = jws.lastIndexOf('.');
  const signature = Buffer.from(jws.slice(dot + 1), 'base64url');
  const low = lowS(signature);
  return low === signature ? jws : jws.slice(0, dot + 1) + Buffer.from(low).toString('base64url');
}
