import type { AccessTokenClaims } from '@latchkey/shared';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { GuardRoute } from './fail-policy.js';

/**
 * RFC 9470: the route's step-up requirement against the token's `auth_time` and `acr`. Null when the token meets
 * it; otherwise the 401 `insufficient_user_authentication` whose challenge says what would (`max_age`, `acr_values`),
 * so the client re-authenticates the user on this device session and retries. A token without `auth_time` (issued
 * before Latchkey stamped it) is never recent enough.
 */
export function stepUpError(claims: Pick<AccessTokenClaims, 'auth_time' | 'acr'>, required: GuardRoute['authentication'], nowMs: number): LatchkeyError | null {
  if (required === undefined) return null;
  const { maxAgeSeconds, acrValues } = required;
  const tooOld = maxAgeSeconds !== undefined && (typeof claims.auth_time !== 'number' || nowMs / 1000 - claims.auth_time > maxAgeSeconds);
  const weak = acrValues !== undefined && (typeof claims.acr !== 'string' || !acrValues.includes(claims.acr));
  if (!tooOld && !weak) return null;
  const message = weak ? 'A stronger authentication is required.' : 'A more recent authentication is required.';
  const parameters = [
    'error="insufficient_user_authentication"',
    `error_description="${message}"`,
    ...(maxAgeSeconds !== undefined ? [`max_age=${maxAgeSeconds}`] : []),
    ...(acrValues !== undefined ? [`acr_values="${acrValues.join(' ')}"`] : []),
  ];
  return new LatchkeyError('insufficient_user_authentication', message, { headers: { 'WWW-Authenticate': `Bearer ${parameters.join(', ')}` } });
}
