import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { AccessTokenClaims } from '@latchkey/shared';
import { systemClock, type Clock } from '../clock.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { SigningAlgorithm } from '../keys/signing-key.js';
import type { BffMetrics } from '../observability/metrics.js';
import { ATTR, endFailed, recordSession, type TraceSpan, type Tracing } from '../observability/tracing.js';
import { StoreUnavailableError, type SessionStore } from '../store/types.js';
import { SCOPE_TOKEN, scopesOf, type LatchkeyClaims } from '../tokens/custom-claims.js';
import { verifyAccessToken } from '../tokens/verify-access-token.js';
import { RevocationView } from './revocation-view.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * Claims of the verified, unrevoked access token; set by `requireAuth()`. The application's own claims are
       * typed by augmenting `LatchkeyClaims` (declare module '@latchkey/bff').
       */
      auth?: AuthClaims;
    }
  }
}

/** What `req.auth` holds: the registered claims, `scope`, and the application's declared claims. */
export type AuthClaims = AccessTokenClaims & LatchkeyClaims;

export interface GuardOptions {
  store: SessionStore;
  keyRing: KeyRing;
  issuer: string;
  audience: string | readonly string[];
  algorithms: readonly SigningAlgorithm[];
  clockSkewSeconds: number;
  maxTokenBytes: number;
  metrics: BffMetrics;
  logger: Logger;
  /** Decides token expiry and revocation-marker expiry; default the system clock. */
  clock?: Clock;
  /** At most one key-ring reload per this many ms for tokens naming an unknown kid (a flood of bogus kids costs one read). */
  unknownKidCooldownMs?: number;
  /** Verified tokens kept (LRU). */
  tokenCacheSize?: number;
  /** The view counts as "store unreachable" once it is this much older than its heartbeat. */
  unavailableAfterMs?: number;
  /**
   * Also accept `iss` from every issuer recorded in the shared key ring (instances sharing the ring are one
   * deployment), and, when `audienceIsDefault`, `aud` equal to such an issuer whose audience is its default too.
   */
  acceptDeploymentIssuers?: boolean;
  /** The audience was not configured: it is the issuer. */
  audienceIsDefault?: boolean;
  /** Fail policy per scope; a route requiring scopes uses the strictest of its scopes' policies. */
  scopePolicies?: Readonly<Record<string, FailPolicy>>;
  /** A `latchkey.guard` span per request (see docs/tracing.md); absent: none. */
  tracing?: Tracing;
}

export interface FailPolicy {
  onStoreUnavailable?: 'closed' | 'open';
  maxStalenessMs?: number;
}

/** Per route: what happens while the store is unreachable. */
export interface RequireAuthOptions {
  /**
   * `closed` (default): 503 `temporarily_unavailable`. `open`: decide from the local view as long as it is at most
   * `maxStalenessMs` old (revocations made during the outage are not seen), then 503.
   */
  onStoreUnavailable?: 'closed' | 'open';
  /** Bound on the view's age for `open`. Default 30 s. */
  maxStalenessMs?: number;
  /**
   * Scopes the token must all carry (its `scope` claim); otherwise 403 `insufficient_scope`. When any of them has a
   * policy in the guard's `scopePolicies`, the strictest of those and of this route's own (when set) applies.
   */
  scopes?: readonly string[];
}

export type GuardDecision = { outcome: 'valid'; claims: AccessTokenClaims; failOpen: boolean } | { outcome: 'expired' | 'revoked' | 'invalid' };

// The scheme is case-insensitive (RFC 7235 §2.1): `bearer` and `BEARER` name the same scheme.
const BEARER = /^Bearer ([^\s]+)$/i;

/** How often a guard asks the store for the key ring's version, besides the log's key-ring events and after an outage. */
const KEY_RING_CHECK_INTERVAL_MS = 60_000;

/**
 * The resource-server guard. Per request, from memory only:
 * 1. the token's signature and claims, verified once and then cached by the exact token string;
 * 2. its expiry, every time;
 * 3. revocation (jti, session, user and tenant `revoked_after`) from the local view that follows the store's revocation log.
 * When the view cannot be trusted (not yet loaded, or the store stopped answering) the route's fail policy decides.
 */
export function createGuard(options: GuardOptions) {
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const skewMs = options.clockSkewSeconds * 1000;
  const cooldownMs = options.unknownKidCooldownMs ?? 1000;
  const unavailableAfterMs = options.unavailableAfterMs ?? 500;
  const cache = new VerifiedTokenCache(options.tokenCacheSize ?? 10_000);
  let lastUnknownKidReload = Number.NEGATIVE_INFINITY;
  /** Set while the ring is being reloaded after a key-ring event: checks wait for it. */
  let keyRingSync: Promise<void> | null = null;
  let keyRingCheckedAt = clock.now();

  options.keyRing.subscribe(() => cache.clear());
  const view = new RevocationView({
    store: options.store,
    logger: options.logger,
    clock,
    onKeyRingChange: (version) => syncKeyRing(() => options.keyRing.syncTo(version)),
    onEventApplied: (lagMs) => options.metrics.revocationLag.observe(lagMs / 1000),
    onReconnect: () => {
      options.metrics.feedReconnects.inc();
      // A key-ring event written while the feed was down may be gone by now (trimmed, or expired after 10 min), and an
      // emergency rotation missed would leave a compromised key trusted here: ask the store, whatever the log says.
      syncKeyRing(() => options.keyRing.syncWithStore());
    },
    onUnannounced: (events) => options.metrics.bellMisses.inc(events),
    onReadError: () => options.metrics.feedErrors.inc(),
    onRead: () => {
      // The same for a guard that missed the event without a failed read (a process paused for minutes): at most
      // one read of the ring's version a minute, whatever the log said.
      if (clock.now() - keyRingCheckedAt < KEY_RING_CHECK_INTERVAL_MS) return;
      keyRingCheckedAt = clock.now();
      // No cache clear up front: nothing says the ring changed, and if it did, the ring's subscribers clear it.
      syncKeyRing(() => options.keyRing.syncWithStore(), false);
    },
  });
  options.metrics.viewSize = () => view.size;
  options.metrics.viewStaleness = () => view.stalenessMs() / 1000;

  /** Reloads the key ring (by default with the cache cleared first: a verified token may have been signed by a dropped key). */
  function syncKeyRing(load: () => Promise<void>, clearCache = true): void {
    if (clearCache) cache.clear();
    const sync = load()
      .catch((error: unknown) =>
        options.logger.error({ event: 'key_ring_reload_failed', err: { message: (error as Error).message } }, 'key ring reload failed'),
      )
      .finally(() => {
        if (keyRingSync === sync) keyRingSync = null;
      });
    keyRingSync = sync;
  }

  const ownAudiences = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  let accepted = { version: undefined as string | null | undefined, issuers: [options.issuer], audiences: ownAudiences };
  /** Accepted iss and aud values, recomputed when the ring changes. */
  function acceptedClaims() {
    if (!options.acceptDeploymentIssuers || accepted.version === options.keyRing.version) return accepted;
    const recorded = options.keyRing.deploymentIssuers();
    const issuers = [...new Set([options.issuer, ...recorded.map((i) => i.issuer)])];
    const audiences = options.audienceIsDefault
      ? [...new Set([...ownAudiences, ...recorded.filter((i) => i.audiences === null).map((i) => i.issuer)])]
      : ownAudiences;
    accepted = { version: options.keyRing.version, issuers, audiences };
    return accepted;
  }

  const verify = (token: string) =>
    verifyAccessToken(token, {
      keyRing: options.keyRing,
      issuer: acceptedClaims().issuers,
      audience: acceptedClaims().audiences,
      algorithms: options.algorithms,
      clockSkewSeconds: options.clockSkewSeconds,
      maxTokenBytes: options.maxTokenBytes,
      nowMs: now(),
    });

  async function verified(token: string): Promise<AccessTokenClaims | 'expired' | 'invalid'> {
    let result = await verify(token);
    const unknownSigner = !result.ok && (result.reason === 'unknown_key' || (result.reason === 'unknown_issuer' && options.acceptDeploymentIssuers));
    // The cooldown is real elapsed time (it bounds work), not the clock expiry decisions use.
    if (unknownSigner && performance.now() - lastUnknownKidReload >= cooldownMs) {
      // Another instance may have rotated keys since this one loaded the ring (a JWKS refetch, in effect).
      lastUnknownKidReload = performance.now();
      const ring = await options.store.getKeyRing();
      await options.keyRing.syncTo(ring?.version ?? null);
      result = await verify(token);
    }
    if (!result.ok) return result.reason === 'expired' ? 'expired' : 'invalid';
    cache.set(token, result.claims, result.claims.exp * 1000 + skewMs - now());
    return result.claims;
  }

  /** Decides one token. Throws StoreUnavailableError when the route's fail policy says 503. */
  async function check(token: string, policy: RequireAuthOptions = {}): Promise<GuardDecision> {
    if (keyRingSync) await keyRingSync;
    // Looks stale: give the feed one short chance to answer before the fail policy applies.
    if (view.stalenessMs() > unavailableAfterMs) await view.nextSync(unavailableAfterMs);
    const cached = decideCached(token, policy);
    if (cached !== undefined) return cached;
    const result = await verified(token);
    if (typeof result === 'string') return { outcome: result };
    return decideRevocation(result, policy);
  }

  /**
   * The hot path, synchronous: a token verified before (and no key-ring reload under way) is decided without a
   * single await. Undefined when the token is not in the cache.
   */
  function decideCached(token: string, policy: RequireAuthOptions): GuardDecision | undefined {
    if (keyRingSync) return undefined;
    const claims = cache.get(token);
    if (claims === undefined) return undefined;
    if (claims.exp * 1000 + skewMs <= now()) return { outcome: 'expired' };
    return decideRevocation(claims, policy);
  }

  function decideRevocation(claims: AccessTokenClaims, policy: RequireAuthOptions): GuardDecision {
    let failOpen = false;
    const staleness = view.stalenessMs();
    if (staleness > unavailableAfterMs) {
      const bound = policy.maxStalenessMs ?? 30_000;
      if (policy.onStoreUnavailable !== 'open' || staleness > bound) {
        throw new StoreUnavailableError(Number.isFinite(staleness) ? `revocation view is ${Math.round(staleness)} ms stale` : 'revocation view not loaded yet');
      }
      failOpen = true;
    }
    if (view.isRevoked(claims)) return { outcome: 'revoked' };
    return { outcome: 'valid', claims, failOpen };
  }

  /**
   * The claims live on `res.locals.auth` (a plain per-request object, cheap to add to) and read as `req.auth`
   * through an accessor on the app's request prototype, installed once. Adding an own property to Node's
   * IncomingMessage on every request cost about 30 µs of CPU per request in the benchmark (it drops the object off
   * V8's fast-property path), more than everything else the guard does.
   */
  let authProto: object | null = null;
  function exposeAuth(req: Request): void {
    const proto = Object.getPrototypeOf(req) as object;
    if (!Object.getOwnPropertyDescriptor(proto, 'auth')) {
      Object.defineProperty(proto, 'auth', {
        configurable: true,
        get(this: Request) {
          return this.res?.locals.auth as AuthClaims | undefined;
        },
        set(this: Request, value: AuthClaims | undefined) {
          if (this.res) this.res.locals.auth = value;
        },
      });
    }
    authProto = proto;
  }

  /**
   * The route's fail policy: the strictest among its scopes' policies and its own when it sets one (a route that asks
   * to fail closed, like the admin router, stays closed whatever a scope allows), else its own default.
   */
  function effectivePolicy(policy: RequireAuthOptions): RequireAuthOptions {
    const scoped: FailPolicy[] = (policy.scopes ?? []).map((scope) => options.scopePolicies?.[scope]).filter((p) => p !== undefined);
    if (scoped.length === 0) return policy;
    if (policy.onStoreUnavailable !== undefined) scoped.push(policy);
    if (scoped.some((p) => (p.onStoreUnavailable ?? 'closed') === 'closed')) return { onStoreUnavailable: 'closed' };
    return { onStoreUnavailable: 'open', maxStalenessMs: Math.min(...scoped.map((p) => p.maxStalenessMs ?? 30_000)) };
  }

  const tracing = options.tracing;
  /** Ends a guard span with its outcome. Attributes only on a recording span: nothing allocated when tracing is off. */
  function endSpan(span: TraceSpan, outcome: string, claims?: AccessTokenClaims, failOpen?: boolean): void {
    if (span.isRecording()) {
      span.setAttribute(ATTR.outcome, outcome);
      if (claims !== undefined) recordSession(tracing!, span, { sid: claims.sid, userId: claims.sub });
      if (failOpen) span.setAttribute(ATTR.guardFailOpen, true);
    }
    span.end();
  }

  function unauthorized(withError: boolean): LatchkeyError {
    return new LatchkeyError('invalid_token', undefined, {
      headers: { 'WWW-Authenticate': withError ? 'Bearer error="invalid_token"' : 'Bearer' },
    });
  }

  /** Express middleware: 401 for a missing, invalid, expired or revoked token; 503 per the fail policy. */
  function requireAuth(policy: RequireAuthOptions = {}): RequestHandler {
    if (policy.onStoreUnavailable !== undefined && policy.onStoreUnavailable !== 'open' && policy.onStoreUnavailable !== 'closed') {
      throw new TypeError("requireAuth: onStoreUnavailable must be 'open' or 'closed'");
    }
    const required = [...new Set(policy.scopes ?? [])];
    for (const scope of required) {
      if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) throw new TypeError(`requireAuth: invalid scope ${JSON.stringify(scope)}`);
    }
    const frozen = Object.freeze(effectivePolicy(policy));
    // RFC 6750 section 3: the challenge names the scopes the route needs.
    const forbidden = () =>
      new LatchkeyError('insufficient_scope', undefined, {
        headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${required.join(' ')}"` },
      });
    return (req, res, next) => {
      const span = tracing?.startSpan('latchkey.guard');
      const header = req.headers.authorization;
      if (header === undefined) {
        options.metrics.authDecisions.inc({ outcome: 'missing' });
        if (span) endSpan(span, 'missing');
        return next(unauthorized(false));
      }
      // Size cap before any parsing: "Bearer " + the longest token we accept.
      const match = header.length <= options.maxTokenBytes + 7 ? BEARER.exec(header) : null;
      if (!match) {
        options.metrics.authDecisions.inc({ outcome: 'invalid' });
        if (span) endSpan(span, 'invalid');
        return next(unauthorized(true));
      }
      const token = match[1]!;
      const stopTimer = options.metrics.checkDuration.startTimer();
      const finish = (decision: GuardDecision) => {
        stopTimer();
        if (decision.outcome !== 'valid') {
          options.metrics.authDecisions.inc({ outcome: decision.outcome });
          if (span) endSpan(span, decision.outcome);
          return next(unauthorized(true));
        }
        if (required.length > 0) {
          const granted = scopesOf(decision.claims.scope);
          if (!required.every((scope) => granted.has(scope))) {
            options.metrics.authDecisions.inc({ outcome: 'insufficient_scope' });
            if (span) endSpan(span, 'insufficient_scope', decision.claims);
            return next(forbidden());
          }
        }
        options.metrics.authDecisions.inc({ outcome: 'valid' });
        if (decision.failOpen) {
          options.metrics.failOpen.inc();
          options.logger.warn({ event: 'guard_fail_open', path: req.path, sid: decision.claims.sid }, 'store unreachable; allowed by fail-open policy');
        }
        if (span) endSpan(span, 'valid', decision.claims, decision.failOpen);
        res.locals.auth = decision.claims;
        if (Object.getPrototypeOf(req) !== authProto) exposeAuth(req);
        next();
      };
      const fail = (error: unknown) => {
        stopTimer();
        // An unexpected failure inside the guard is still Latchkey's error: an opaque 500, never the app's handler's stack page.
        const failure =
          error instanceof StoreUnavailableError
            ? new LatchkeyError('temporarily_unavailable', undefined, { cause: error })
            : new LatchkeyError('internal_error', undefined, { cause: error });
        if (span) {
          endFailed(span, failure);
          span.end();
        }
        if (!(error instanceof StoreUnavailableError)) return next(failure);
        options.metrics.authDecisions.inc({ outcome: 'store_unavailable' });
        options.logger.warn({ event: 'guard_store_unavailable', path: req.path, reason: error.message }, 'guard failing closed');
        next(failure);
      };
      // A cached token is decided synchronously; only a first sighting awaits the signature check.
      let cached: GuardDecision | undefined;
      try {
        if (view.stalenessMs() <= unavailableAfterMs) cached = decideCached(token, frozen);
      } catch (error) {
        return fail(error);
      }
      if (span?.isRecording()) span.setAttribute(ATTR.guardCached, cached !== undefined);
      if (cached !== undefined) return finish(cached);
      // The first sighting of a token may read the store (a key-ring reload): those spans go under the guard's.
      (span ? tracing!.within(span, () => check(token, frozen)) : check(token, frozen)).then(finish, fail);
    };
  }

  return {
    check,
    /**
     * Signature and claims only, as `check` verifies them, without the revocation check: the verified claims, or why
     * not. Needs no store (but for a token naming a key this process has not loaded yet).
     */
    verify: async (token: string): Promise<AccessTokenClaims | 'expired' | 'invalid'> => {
      if (keyRingSync) await keyRingSync;
      return verified(token);
    },
    requireAuth,
    /** Loads the revocation view; resolves once it is complete. */
    start: () => view.start(),
    stop: () => view.stop(),
    /** Follows the revocation log as this guard's view applies it (see RevocationView.onEvent). */
    onLogEvent: (listener: Parameters<RevocationView['onEvent']>[0]) => view.onEvent(listener),
    /** Whether the local view already knows this session ended (see RevocationView.isSessionRevoked). */
    isSessionRevoked: (sid: string, userId: string, createdAt: number, tenant?: string) => view.isSessionRevoked(sid, userId, createdAt, tenant),
    /** For tests and metrics: entries in the local view and the verified-token cache. */
    stats: () => ({ viewEntries: view.size, cachedTokens: cache.size, stalenessMs: view.stalenessMs() }),
  };
}

export type Guard = ReturnType<typeof createGuard>;
