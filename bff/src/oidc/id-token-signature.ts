import { compactVerify } from 'jose';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { IdpClient } from './idp-client.js';

/**
 * Checks an ID token's signature against the IdP's JWKS (openid-client validated its claims but not its signature):
 * true when a key the IdP publishes, for an algorithm it announces, signed it. An unknown `kid` refetches the JWKS once
 * (key rotation). Throws the 503 LatchkeyError when the JWKS cannot be fetched.
 */
export async function idTokenSignatureValid(idp: IdpClient, idToken: string): Promise<boolean> {
  const [keys, algorithms] = await Promise.all([idp.signingKeys(), idp.signingAlgorithms()]);
  try {
    await compactVerify(idToken, keys.getKey('refetch'), { algorithms });
    return true;
  } catch (error) {
    if (error instanceof LatchkeyError) throw error;
    return false;
  }
}
