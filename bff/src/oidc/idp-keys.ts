import { createLocalJWKSet, errors as joseErrors, type JWTVerifyGetKey } from 'jose';
import type { LatchkeyError } from '../errors/latchkey-error.js';

/** How long a fetched copy of the IdP's JWKS is used before it is fetched again. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** After a fetch, an unknown `kid` in a logout token (anyone can POST one) triggers no new fetch for this long. */
export const JWKS_REFETCH_COOLDOWN_MS = 30_000;

/** Whether a token naming a key the copy lacks may refetch at once (ID tokens, from the token endpoint) or waits out the cooldown. */
export type UnknownKidPolicy = 'refetch' | 'cooldown';

export interface IdpKeySet {
  /** A key getter for jose's verify functions. */
  getKey(unknownKid: UnknownKidPolicy): JWTVerifyGetKey;
}

export interface IdpKeySetOptions {
  timeoutMs: number;
  /** The BFF's clock: cache age and cooldown are decided on it. */
  now: () => number;
  /** The fetch to use (the IdP client's, which counts unreachable answers); the global one by default. */
  fetch?: (url: string, init: object) => Promise<Response>;
  /** Turns a failed fetch into the BFF's 503 (the IdP could not be reached). */
  unavailable: (cause: unknown) => LatchkeyError;
}

/**
 * The IdP's signing keys (its `jwks_uri`), one copy for ID tokens and logout tokens alike: fetched on first use, kept
 * for JWKS_MAX_AGE_MS, and fetched again once when a token names a `kid` the copy does not hold (the IdP rotated its
 * key); if the fresh copy lacks it too, the token is refused. Concurrent fetches are shared. Logout tokens come from
 * anyone on the network, so theirs refetch at most once per JWKS_REFETCH_COOLDOWN_MS; ID tokens come from the token
 * endpoint over the authenticated client's TLS connection, so theirs may always refetch (a sign-in right after a
 * rotation works).
 */
export function createIdpKeySet(jwksUri: URL, options: IdpKeySetOptions): IdpKeySet {
  let local: JWTVerifyGetKey | undefined;
  let fetchedAt = 0;
  let pending: Promise<void> | undefined;

  const fetchKeys = async (): Promise<void> => {
    try {
      const response = await (options.fetch ?? fetch)(jwksUri.href, {
        redirect: 'manual',
        headers: { accept: 'application/jwk-set+json, application/json' },
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      if (response.status !== 200) throw new Error(`jwks_uri answered ${response.status}`);
      local = createLocalJWKSet((await response.json()) as never);
      fetchedAt = options.now();
    } catch (error) {
      throw options.unavailable(error);
    }
  };
  const reload = (): Promise<void> => {
    pending ??= fetchKeys().finally(() => {
      pending = undefined;
    });
    return pending;
  };

  return Object.freeze({
    getKey(unknownKid: UnknownKidPolicy): JWTVerifyGetKey {
      return async (header, token) => {
        if (local === undefined || options.now() - fetchedAt >= JWKS_MAX_AGE_MS) await reload();
        try {
          return await local!(header, token);
        } catch (error) {
          if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
          if (unknownKid === 'cooldown' && options.now() - fetchedAt < JWKS_REFETCH_COOLDOWN_MS) throw error;
          await reload();
          return local!(header, token);
        }
      };
    },
  });
}
