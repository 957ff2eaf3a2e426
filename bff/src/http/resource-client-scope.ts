import type { AccessTokenClaims } from '@latchkey/shared';
import type { ResourceClient } from './client-auth.js';

/**
 * Whether a verified token is one the resource client may see: its `aud` names one of the client's `audiences`, and its
 * `tenant` is one of the client's `tenants` (each only when the client has that restriction). A token outside is, for
 * that client, no token at all: introspection answers `{ active: false }` (RFC 7662 §2.2) and revocation changes
 * nothing (RFC 7009 §2.2), see docs/introspection.md.
 */
export function tokenWithinClient(client: ResourceClient, claims: AccessTokenClaims): boolean {
  if (client.audiences !== undefined) {
    const audiences = typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
    if (!audiences.some((aud) => client.audiences!.includes(aud))) return false;
  }
  if (client.tenants !== undefined) {
    if (typeof claims.tenant !== 'string' || !client.tenants.includes(claims.tenant.normalize('NFC'))) return false;
  }
  return true;
}
