import type { AuthenticatedUser, IdpClaims } from '../options.js';

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

/**
 * The default mapping from the IdP's user to a Latchkey user: id `${iss}|${sub}` (OIDC guarantees the pair is unique
 * and never reassigned; `sub` alone is only unique per issuer), name from `name`, `preferred_username`, `email`, `sub`.
 */
export function defaultMapUser(claims: IdpClaims): AuthenticatedUser {
  return {
    id: `${claims.iss}|${claims.sub}`,
    name: (text(claims.name) ?? text(claims.preferred_username) ?? text(claims.email) ?? claims.sub).slice(0, 256),
  };
}
