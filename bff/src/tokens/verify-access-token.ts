import { errors as joseErrors, jwtVerify, type JWTHeaderParameters } from 'jose';
import { ACCESS_TOKEN_TYP, REQUIRED_CLAIMS, type AccessTokenClaims } from '@latchkey/shared';
import type { KeyRing } from '../keys/key-ring.js';
import type { SigningAlgorithm } from '../keys/signing-key.js';
import { isHighS } from './ecdsa-low-s.js';

export interface VerifyAccessTokenOptions {
  keyRing: KeyRing;
  /** Accepted `iss` values. */
  issuer: string | readonly string[];
  audience: string | readonly string[];
  algorithms: readonly SigningAlgorithm[];
  clockSkewSeconds: number;
  maxTokenBytes: number;
  nowMs: number;
}

/** Why a token was refused; never shown to the client (they all get the same generic 401). */
export type TokenRejection = 'malformed' | 'oversized' | 'expired' | 'unknown_key' | 'unknown_issuer' | 'invalid';

export type VerifyResult = { ok: true; claims: AccessTokenClaims; header: JWTHeaderParameters } | { ok: false; reason: TokenRejection; cause?: unknown };

/** Three base64url parts: rejects JWE (five parts) and anything else before base64 or JSON parsing. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Verifies signature and claims. The key comes from the ring by `kid` only: `jwk`, `jku`, `x5u` and `x5c` headers are
 * never consulted (jose only uses them when asked to). Revocation is the guard's job, not this function's.
 */
export async function verifyAccessToken(token: string, options: VerifyAccessTokenOptions): Promise<VerifyResult> {
  if (token.length > options.maxTokenBytes) return { ok: false, reason: 'oversized' };
  if (!COMPACT_JWS.test(token)) return { ok: false, reason: 'malformed' };
  // jose decodes base64url leniently: the last character of a signature has unused bits, so up to 16 spellings of
  // one signature verify. Only the canonical spelling is the token; the others would be distinct cache keys.
  // ECDSA's own malleability (r, n - s) is refused below, once the header has named the algorithm.
  const signature = token.slice(token.lastIndexOf('.') + 1);
  const signatureBytes = Buffer.from(signature, 'base64url');
  if (signatureBytes.toString('base64url') !== signature) return { ok: false, reason: 'malformed' };
  let unknownKey = false;
  try {
    const { payload, protectedHeader } = await jwtVerify(
      token,
      (header) => {
        // (r, n - s) verifies as well as (r, s): only the low-S spelling is the token (see ecdsa-low-s.ts).
        if (header.alg === 'ES256' && isHighS(signatureBytes)) throw new joseErrors.JWSSignatureVerificationFailed();
        const key = typeof header.kid === 'string' ? options.keyRing.verificationKey(header.kid) : undefined;
        if (!key || key.alg !== header.alg) {
          unknownKey = true;
          throw new joseErrors.JWKSNoMatchingKey();
        }
        return key.publicKey;
      },
      {
        algorithms: [...options.algorithms],
        issuer: typeof options.issuer === 'string' ? options.issuer : [...options.issuer],
        audience: [...(typeof options.audience === 'string' ? [options.audience] : options.audience)],
        typ: ACCESS_TOKEN_TYP,
        clockTolerance: options.clockSkewSeconds,
        requiredClaims: [...REQUIRED_CLAIMS],
        currentDate: new Date(options.nowMs),
      },
    );
    // jose checks iat's type but not that it lies in the past; a token "issued" in the future is forged or mis-clocked.
    if (typeof payload.iat !== 'number' || payload.iat > options.nowMs / 1000 + options.clockSkewSeconds) {
      return { ok: false, reason: 'invalid' };
    }
    if (typeof payload.sid !== 'string' || typeof payload.client_id !== 'string' || typeof payload.jti !== 'string') {
      return { ok: false, reason: 'invalid' };
    }
    return { ok: true, claims: payload as unknown as AccessTokenClaims, header: protectedHeader };
  } catch (error) {
    if (unknownKey) return { ok: false, reason: 'unknown_key', cause: error };
    if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'expired', cause: error };
    // Perhaps an instance of this deployment the ring in memory does not list yet.
    if (error instanceof joseErrors.JWTClaimValidationFailed && (error.claim === 'iss' || error.claim === 'aud')) {
      return { ok: false, reason: 'unknown_issuer', cause: error };
    }
    return { ok: false, reason: 'invalid', cause: error };
  }
}
