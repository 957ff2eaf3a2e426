import { LRUCache } from 'lru-cache';
import type { AccessTokenClaims } from '@latchkey/shared';

/**
 * Tokens whose signature and claims were verified, keyed by the exact token string, until they expire.
 * Only tokens that passed verification are ever stored, so a forged or mutated token (a different string)
 * always misses. Expiry and revocation are still checked on every request; the cache only saves the signature
 * check. Cleared whenever the key ring changes (an emergency rotation must un-trust every token at once).
 */
export class VerifiedTokenCache {
  private readonly cache: LRUCache<string, AccessTokenClaims>;

  constructor(maxEntries: number) {
    this.cache = new LRUCache<string, AccessTokenClaims>({ max: maxEntries, ttlAutopurge: false });
  }

  get(token: string): AccessTokenClaims | undefined {
    return this.cache.get(token);
  }

  /** Keeps the claims until the token's `exp` (plus skew): never longer than the token itself is valid. */
  set(token: string, claims: AccessTokenClaims, ttlMs: number): void {
    if (ttlMs > 0) this.cache.set(token, claims, { ttl: ttlMs });
  }

  clear(): void {
    this.cache.clear();
  }

  get size(): number {
    return this.cache.size;
  }
}
