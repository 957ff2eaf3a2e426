import type { BffContext } from '../context.js';
import { stepUpError } from '../guard/step-up.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { authenticationOf } from '../tokens/issue-access-token.js';

/**
 * Step-up on a cookie route (logout-all, logout-others when configured): the device session's last authentication
 * must be at most `maxAgeSeconds` old, else the route answers 401 `insufficient_user_authentication` (with `max_age`)
 * and changes nothing. Undefined: no requirement.
 */
export function requireRecentAuthentication(ctx: BffContext, session: DeviceSessionRecord, maxAgeSeconds: number | undefined): void {
  if (maxAgeSeconds === undefined) return;
  const error = stepUpError(authenticationOf(session), { maxAgeSeconds }, ctx.now());
  if (error !== null) throw error;
}
