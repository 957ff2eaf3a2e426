import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';

/**
 * A sign-in at a provider that failed: counted (`latchkey_logins_total{outcome="oidc_login_failed"}`), logged with its
 * reason (never a token or code) and the provider's name, and returned as the 400 `oidc_login_failed` to throw.
 */
export function signInFailed(ctx: BffContext, provider: string | undefined, reason: string, message: string, cause?: unknown): LatchkeyError {
  ctx.metrics.logins.inc({ outcome: 'oidc_login_failed' });
  ctx.logger.warn({ event: 'oidc_login_failed', provider, reason }, 'sign-in at the identity provider failed');
  return new LatchkeyError('oidc_login_failed', message, cause === undefined ? {} : { cause });
}
