// The public surface the README documents. Advanced pieces: `@latchkey/bff/store` (the store contract and its
// building blocks) and `@latchkey/bff/guard` (the guard on its own, its revocation view and key ring).
export { createBff, type Bff } from './create-bff.js';
export type { ServerSession } from './session/server-session.js';
export type { ValidateSession, ValidateSessionResult, ValidatedSession } from './session/validate.js';
export type { CookieSource } from './http/cookie-header.js';
export { systemClock, type Clock } from './clock.js';
export type {
  BffOptions,
  Authenticate,
  AuthenticatedUser,
  ScopeFailPolicy,
  OidcOptions,
  OidcProviderOptions,
  ClientAuth,
  MapUserInfo,
  MapUser,
  IdpClaims,
  ResourceClientOptions,
  ProxyOptions,
  ProxyToken,
  ProxyTokenContext,
} from './options.js';
export { RESERVED_CLAIMS, type LatchkeyClaims, type GrantedClaims } from './tokens/custom-claims.js';
export { defaultMapUser } from './oidc/map-user.js';
export type { BffAdmin } from './admin.js';
export { ADMIN_ROUTES, DEFAULT_ADMIN_SCOPE, DEFAULT_KEYS_SCOPE, type AdminRouterOptions } from './routes/admin/admin-router.js';
export { LatchkeyError, type LatchkeyErrorOptions } from './errors/latchkey-error.js';
export type { Guard, GuardRoute, AuthResult, RequireAuthOptions, AuthClaims, FailPolicy } from './guard/guard.js';
export type { VerifiableRequest, VerifyRequest, RequestLike, HeaderGetter } from './guard/verify-request.js';
export { LOGGER_REDACTION, REDACT_PATHS } from './observability/logger.js';
export { MemoryStore } from './store/memory.js';
export { RedisStore, type RedisStoreOptions, type RedisClient } from './store/redis.js';
export { StoreUnavailableError, type SessionStore } from './store/types.js';
export { SESSION_ENDED_HEADER, type ProxyRouter } from './routes/proxy.js';
export { SESSION_ENDED_CLOSE_CODE } from './routes/proxy-sockets.js';
