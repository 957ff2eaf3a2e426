/**
 * `@latchkey/bff/store`: the session store contract and its building blocks, for writing or testing a store, or reading
 * the revocation log directly. An application only configuring the BFF needs none of it: `MemoryStore`, `RedisStore`
 * and `SessionStore` are also on `@latchkey/bff`.
 */
export { MemoryStore } from './memory.js';
export { RedisStore, type RedisStoreOptions, type RedisClient } from './redis.js';
export { newSessionKey, isSessionKeyOf } from './session-key.js';
export {
  StoreUnavailableError,
  type SessionStore,
  type DeviceSessionRecord,
  type IdpLink,
  type IdpTokenUpdate,
  type IdpRenewalClaim,
  type IdpRenewalClaimInput,
  type RotateInput,
  type RotateResult,
  type SessionEndReason,
  type SessionLimits,
  type TransactionSessionStore,
} from './types.js';
export type { RevocationEvent, RevocationBatch, ReadRevocationsOptions } from './revocation-feed.js';
export type { RateLimitCounter, RateLimitCounterOptions, RateLimitCount } from './rate-limit-counter.js';
