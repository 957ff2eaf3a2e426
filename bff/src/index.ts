export { createBff, type Bff } from './create-bff.js';
export type { BffOptions, ResolvedBffOptions, Authenticate, AuthenticatedUser } from './options.js';
export { resolveBffOptions } from './options.js';
export type { BffAdmin } from './admin.js';
export { LatchkeyError, type LatchkeyErrorOptions } from './errors/latchkey-error.js';
export { createGuard, isRevoked, type Guard, type GuardOptions, type GuardDecision } from './guard/guard.js';
export { KeyRing, type KeyRingOptions } from './keys/key-ring.js';
export type { SigningAlgorithm } from './keys/signing-key.js';
export { BffMetrics } from './observability/metrics.js';
export { createDefaultLogger, REDACT_PATHS } from './observability/logger.js';
export { MemoryStore } from './store/memory.js';
export { RedisStore } from './store/redis.js';
export {
  StoreUnavailableError,
  type SessionStore,
  type DeviceSessionRecord,
  type RotateInput,
  type RotateResult,
  type RevocationState,
  type SessionEndReason,
} from './store/types.js';
