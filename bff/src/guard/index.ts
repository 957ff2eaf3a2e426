/**
 * `@latchkey/bff/guard`: the resource guard on its own, for a service that verifies Latchkey access tokens without
 * running the BFF's routes (it shares the store and the secrets). An application with a BFF uses `bff.requireAuth()`
 * or `bff.verify()` instead.
 */
export {
  createGuard,
  type Guard,
  type GuardOptions,
  type GuardDecision,
  type GuardRoute,
  type AuthResult,
  type RequireAuthOptions,
  type AuthClaims,
  type FailPolicy,
} from './guard.js';
export { createVerifyRequest, type VerifiableRequest, type VerifyRequest, type RequestLike, type HeaderGetter } from './verify-request.js';
export { RevocationView, type RevocationViewOptions } from './revocation-view.js';
export { KeyRing, type KeyRingOptions } from '../keys/key-ring.js';
export type { SigningAlgorithm } from '../keys/signing-key.js';
export { BffMetrics } from '../observability/metrics.js';
export { createDefaultLogger } from '../observability/logger.js';
export { systemClock, type Clock } from '../clock.js';
