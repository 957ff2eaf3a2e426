import type { SessionStore } from '../store/types.js';
import type { Tracing } from './tracing.js';

/**
 * Store calls that get a `latchkey.store.<operation>` span. Not traced: `readRevocations` (the guards' long-poll of
 * the revocation log, a background loop with no request behind it), `close`, and the factories
 * (`createRateLimitCounter`, `createLoginTransactionStore`), which run once at startup.
 */
const TRACED_OPERATIONS: ReadonlySet<PropertyKey> = new Set<keyof SessionStore>([
  'createSession',
  'getSession',
  'rotate',
  'listUserSessions',
  'endSession',
  'endUserSessionBySid',
  'endAllUserSessions',
  'endOtherUserSessions',
  'revokeAllSessions',
  'revokeTenant',
  'endSessionsByIdpSid',
  'updateIdpTokens',
  'claimIdpRenewal',
  'releaseIdpRenewal',
  'restampSession',
  'useOnce',
  'revokeJti',
  'getKeyRing',
  'putKeyRing',
]);

/**
 * The store with a span around each traced operation, as a decorator so no store implementation knows about
 * tracing. A span is started only inside a traced operation (a route or guard span is active), as the OpenTelemetry
 * database instrumentations do with `requireParentSpan`: the key ring's startup load and background work stay out
 * of the traces. A Proxy rather than a class listing every method: operations a store adds later pass through
 * untouched, and a store's own extra methods (RedisStore's) keep working on the wrapped object.
 */
export function traceStore(store: SessionStore, tracing: Tracing): SessionStore {
  const wrapped = new Map<PropertyKey, (...args: unknown[]) => unknown>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      let method = wrapped.get(property);
      if (method === undefined) {
        // The method is looked up on every call, not kept: a store whose method is replaced later (an application's
        // own patching, a test's fault injection) is called as it is now.
        const call = (args: unknown[]) => (Reflect.get(target, property) as (...a: unknown[]) => unknown).apply(target, args);
        const spanName = `latchkey.store.${String(property)}`;
        method = TRACED_OPERATIONS.has(property)
          ? (...args: unknown[]) => (tracing.hasActiveSpan() ? tracing.run(spanName, async () => call(args)) : call(args))
          : (...args: unknown[]) => call(args);
        wrapped.set(property, method);
      }
      return method;
    },
  });
}
