export { createBff, type Bff } from './create-bff.js';
export { systemClock, type Clock } from './clock.js';
export type {
  BffOptions,
  ResolvedBffOptions,
  Authenticate,
  AuthenticatedUser,
  ScopeFailPolicy,
  OidcOptions,
  ResolvedOidcOptions,
  MapUser,
  IdpClaims,
  ResourceClientOptions,
  ProxyOptions,
  ProxyToken,
  ProxyTokenContext,
} from './options.js';
export { RESERVED_CLAIMS, type LatchkeyClaims, type GrantedClaims } from './tokens/custom-claims.js';
export { defaultMapUser } from './oidc/map-user.js';
export { resolveBffOptions } from './options.js';
export type { BffAdmin } from './admin.js';
export { ADMIN_ROUTES, DEFAULT_ADMIN_SCOPE, DEFAULT_KEYS_SCOPE, type AdminRouterOptions } from './routes/admin/admin-router.js';
export { LatchkeyError, type LatchkeyErrorOptions } from './errors/latchkey-error.js';
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
} from './guard/guard.js';
export type { VerifiableRequest, VerifyRequest, RequestLike, HeaderGetter } from './guard/verify-request.js';
export { RevocationView, type RevocationViewOptions } from './guard/revocation-view.js';
export type { RevocationEvent, RevocationBatch, ReadRevocationsOptions } from './store/revocation-feed.js';
export { KeyRing, type KeyRingOptions } from './keys/key-ring.js';
export type { SigningAlgorithm } from './keys/signing-key.js';
export { BffMetrics } from './observability/metrics.js';
export { createDefaultLogger, LOGGER_REDACTION, REDACT_PATHS } from './observability/logger.js';
export { MemoryStore } from './store/memory.js';
export { RedisStore, type RedisStoreOptions, type RedisClient } from './store/redis.js';
export { newSessionKey, isSessionKeyOf, sessionKeyTag, userTag } from './store/session-key.js';
export {
  StoreUnavailableError,
  type SessionStore,
  type DeviceSessionRecord,
  type IdpLink,
  type IdpTokenUpdate,
  type RotateInput,
  type RotateResult,
  type SessionEndReason,
  type SessionLimits,
} from './store/types.js';
export type { RateLimitCounter, RateLimitCounterOptions, RateLimitCount } from './store/rate-limit-counter.js';
export { SESSION_ENDED_HEADER } from './routes/proxy.js';
