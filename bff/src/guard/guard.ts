import type { Logger } from 'pino';
import type { RequestHandler } from 'express';
import type { AccessTokenClaims } from '@latchkey/shared';
import { systemClock, type Clock } from '../clock.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { SigningAlgorithm } from '../keys/signing-key.js';
import type { BffMetrics } from '../observability/metrics.js';
import { ATTR, endFailed, recordSession, type TraceSpan, type Tracing } from '../observability/tracing.js';
import type { RevocationEvent } from '../store/revocation-feed.js';
import { StoreUnavailableError, type SessionStore } from '../store/types.js';
import { scopesOf } from '../tokens/custom-claims.js';
import { verifyAccessToken } from '../tokens/verify-access-token.js';
import { resolveRoute, stalenessVerdict, type FailPolicy, type GuardRoute, type RequireAuthOptions } from './fail-policy.js';
import { KeyRingFollower } from './key-ring-follower.js';
import { expressRequireAuth, type AuthClaims, type AuthResult } from './require-auth.js';
import { RevocationView } from './revocation-view.js';
import { stepUpError } from './step-up.js';
import { VerifiedTokenCache } from './verified-token-cache.js';

export type { FailPolicy, GuardRoute, RequireAuthOptions } from './fail-policy.js';
export type { AuthClaims, AuthResult } from './require-auth.js';

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

export type GuardDecision = { outcome: 'valid'; claims: AccessTokenClaims; failOpen: boolean } | { outcome: 'expired' | 'revoked' | 'invalid' };

/** The resource-server guard (see createGuard). */
export interface Guard {
  /**
   * The framework-neutral core of `requireAuth`: decides one request from its Authorization header value on a route
   * (options, or a route resolved once with `route()`). Answers the verified, unrevoked claims, or the LatchkeyError
   * to answer with: 401 `invalid_token`, 403 `insufficient_scope`, 503 `temporarily_unavailable` per the fail
   * policy, 500 `internal_error`. Never rejects. `path` only names the request in the guard's logs.
   * Throws TypeError for invalid route options.
   */
  authorize(authorization: string | undefined, route?: GuardRoute | RequireAuthOptions, context?: { path?: string }): Promise<AuthResult>;
  /** Validates a route's options once and resolves its fail policy (TypeError on invalid options). */
  route(options?: RequireAuthOptions): GuardRoute;
  /** Express middleware over `authorize`: sets `req.auth`, or passes the error to `next`. */
  requireAuth(options?: RequireAuthOptions): RequestHandler;
  /** Decides one token (no scopes). Rejects with StoreUnavailableError when the fail policy says 503. */
  check(token: string, policy?: RequireAuthOptions): Promise<GuardDecision>;
  /**
   * Signature and claims only, as `check` verifies them, without the revocation check: the verified claims, or why
   * not. Needs no store (but for a token naming a key this process has not loaded yet).
   */
  verify(token: string): Promise<AccessTokenClaims | 'expired' | 'invalid'>;
  /**
   * Whether the revocation view is current enough for a fail-closed route to decide (within the bound past which it
   * answers 503). A view that only looks stale gets one heartbeat's chance to catch up first, as a request does.
   */
  feedCurrent(): Promise<boolean>;
  /** Loads the revocation view; resolves once it is complete. */
  start(): Promise<void>;
  stop(): void;
  /** Follows the revocation log as this guard's view applies it (see RevocationView.onEvent); returns the unsubscribe. */
  onLogEvent(listener: (event: RevocationEvent) => void): () => void;
  /** Whether the local view already knows this session ended (see RevocationView.isSessionRevoked). */
  isSessionRevoked(sid: string, userId: string, createdAt: number, tenant?: string): boolean;
  /** For tests and metrics: entries in the local view and the verified-token cache. */
  stats(): { viewEntries: number; cachedTokens: number; stalenessMs: number };
}

// The scheme is case-insensitive (RFC 7235 §2.1): `bearer` and `BEARER` name the same scheme.
const BEARER = /^Bearer ([^\s]+)$/i;

/**
 * The resource-server guard. Per request, from memory only:
 * 1. the token's signature and claims, verified once and then cached by the exact token string;
 * 2. its expiry, every time;
 * 3. revocation (jti, session, user and tenant `revoked_after`) from the local view that follows the store's revocation log.
 * When the view cannot be trusted (not yet loaded, or the store stopped answering) the route's fail policy decides
 * (fail-policy.ts); the key ring is kept current by key-ring-follower.ts; requireAuth is the Express middleware over
 * `authorize` (require-auth.ts).
 */
export function createGuard(options: GuardOptions): Guard {
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const skewMs = options.clockSkewSeconds * 1000;
  const unavailableAfterMs = options.unavailableAfterMs ?? 500;
  const cache = new VerifiedTokenCache(options.tokenCacheSize ?? 10_000);
  const keys = new KeyRingFollower({
    keyRing: options.keyRing,
    store: options.store,
    logger: options.logger,
    clock,
    clearVerified: () => cache.clear(),
    unknownKidCooldownMs: options.unknownKidCooldownMs ?? 1000,
    issuer: options.issuer,
    audiences: typeof options.audience === 'string' ? [options.audience] : [...options.audience],
    acceptDeploymentIssuers: options.acceptDeploymentIssuers ?? false,
    audienceIsDefault: options.audienceIsDefault ?? false,
  });
  const view = new RevocationView({
    store: options.store,
    logger: options.logger,
    clock,
    onKeyRingChange: (version) => keys.onKeyRingEvent(version),
    onEventApplied: (lagMs) => options.metrics.revocationLag.observe(lagMs / 1000),
    onReconnect: () => {
      options.metrics.feedReconnects.inc();
      keys.onFeedReconnect();
    },
    onUnannounced: (events) => options.metrics.bellMisses.inc(events),
    onReadError: () => options.metrics.feedErrors.inc(),
    onRead: () => keys.onFeedRead(),
  });
  options.metrics.viewSize = () => view.size;
  options.metrics.viewStaleness = () => view.stalenessMs() / 1000;

  const verify = (token: string) =>
    verifyAccessToken(token, {
      keyRing: options.keyRing,
      issuer: keys.acceptedClaims().issuers,
      audience: keys.acceptedClaims().audiences,
      algorithms: options.algorithms,
      clockSkewSeconds: options.clockSkewSeconds,
      maxTokenBytes: options.maxTokenBytes,
      nowMs: now(),
    });

  async function verified(token: string): Promise<AccessTokenClaims | 'expired' | 'invalid'> {
    let result = await verify(token);
    const unknownSigner = !result.ok && (result.reason === 'unknown_key' || (result.reason === 'unknown_issuer' && options.acceptDeploymentIssuers));
    if (unknownSigner && (await keys.reloadForUnknownSigner())) result = await verify(token);
    if (!result.ok) return result.reason === 'expired' ? 'expired' : 'invalid';
    cache.set(token, result.claims, result.claims.exp * 1000 + skewMs - now());
    return result.claims;
  }

  /** Decides one token. Throws StoreUnavailableError when the route's fail policy says 503. */
  async function check(token: string, policy: FailPolicy = {}): Promise<GuardDecision> {
    if (keys.syncing) await keys.syncing;
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
  function decideCached(token: string, policy: FailPolicy): GuardDecision | undefined {
    if (keys.syncing) return undefined;
    const claims = cache.get(token);
    if (claims === undefined) return undefined;
    if (claims.exp * 1000 + skewMs <= now()) return { outcome: 'expired' };
    return decideRevocation(claims, policy);
  }

  function decideRevocation(claims: AccessTokenClaims, policy: FailPolicy): GuardDecision {
    const failOpen = stalenessVerdict(view.stalenessMs(), unavailableAfterMs, policy) === 'fail_open';
    if (view.isRevoked(claims)) return { outcome: 'revoked' };
    return { outcome: 'valid', claims, failOpen };
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

  // RFC 6750 section 3: the challenge names the scopes the route needs.
  function forbidden(required: readonly string[]): LatchkeyError {
    return new LatchkeyError('insufficient_scope', undefined, {
      headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${required.join(' ')}"` },
    });
  }

  /** One request: counted, logged and traced here, whichever framework carries it. Never rejects. */
  function decide(header: string | undefined, route: GuardRoute, path?: string): AuthResult | Promise<AuthResult> {
    const span = tracing?.startSpan('latchkey.guard');
    if (header === undefined) {
      options.metrics.authDecisions.inc({ outcome: 'missing' });
      if (span) endSpan(span, 'missing');
      return { ok: false, error: unauthorized(false) };
    }
    // Size cap before any parsing: "Bearer " + the longest token we accept.
    const match = header.length <= options.maxTokenBytes + 7 ? BEARER.exec(header) : null;
    if (!match) {
      options.metrics.authDecisions.inc({ outcome: 'invalid' });
      if (span) endSpan(span, 'invalid');
      return { ok: false, error: unauthorized(true) };
    }
    const token = match[1]!;
    const stopTimer = options.metrics.checkDuration.startTimer();
    const finish = (decision: GuardDecision): AuthResult => {
      stopTimer();
      if (decision.outcome !== 'valid') {
        options.metrics.authDecisions.inc({ outcome: decision.outcome });
        if (span) endSpan(span, decision.outcome);
        return { ok: false, error: unauthorized(true) };
      }
      if (route.scopes.length > 0) {
        const granted = scopesOf(decision.claims.scope);
        if (!route.scopes.every((scope) => granted.has(scope))) {
          options.metrics.authDecisions.inc({ outcome: 'insufficient_scope' });
          if (span) endSpan(span, 'insufficient_scope', decision.claims);
          return { ok: false, error: forbidden(route.scopes) };
        }
      }
      const stepUp = stepUpError(decision.claims, route.authentication, now());
      if (stepUp !== null) {
        options.metrics.authDecisions.inc({ outcome: 'insufficient_user_authentication' });
        if (span) endSpan(span, 'insufficient_user_authentication', decision.claims);
        return { ok: false, error: stepUp };
      }
      options.metrics.authDecisions.inc({ outcome: 'valid' });
      if (decision.failOpen) {
        options.metrics.failOpen.inc();
        options.logger.warn({ event: 'guard_fail_open', path, sid: decision.claims.sid }, 'store unreachable; allowed by fail-open policy');
      }
      if (span) endSpan(span, 'valid', decision.claims, decision.failOpen);
      // The application's declared claims are its own promise about its tokens (LatchkeyClaims augmentation), as req.auth's type is.
      return { ok: true, claims: decision.claims as AuthClaims, failOpen: decision.failOpen };
    };
    const fail = (error: unknown): AuthResult => {
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
      if (!(error instanceof StoreUnavailableError)) return { ok: false, error: failure };
      options.metrics.authDecisions.inc({ outcome: 'store_unavailable' });
      options.logger.warn({ event: 'guard_store_unavailable', path, reason: error.message }, 'guard failing closed');
      return { ok: false, error: failure };
    };
    // A cached token is decided synchronously; only a first sighting awaits the signature check.
    let cached: GuardDecision | undefined;
    try {
      if (view.stalenessMs() <= unavailableAfterMs) cached = decideCached(token, route.policy);
    } catch (error) {
      return fail(error);
    }
    if (span?.isRecording()) span.setAttribute(ATTR.guardCached, cached !== undefined);
    if (cached !== undefined) return finish(cached);
    // The first sighting of a token may read the store (a key-ring reload): those spans go under the guard's.
    return (span ? tracing!.within(span, () => check(token, route.policy)) : check(token, route.policy)).then(finish, fail);
  }

  /** Routes resolved by `route()`: `authorize` takes them as they are, and resolves plain options. */
  const resolved = new WeakSet<GuardRoute>();
  function route(routeOptions: RequireAuthOptions = {}): GuardRoute {
    const r = resolveRoute(routeOptions, options.scopePolicies);
    resolved.add(r);
    return r;
  }

  return {
    authorize: async (authorization, routeOrOptions = {}, context = {}) => {
      const r = resolved.has(routeOrOptions as GuardRoute) ? (routeOrOptions as GuardRoute) : route(routeOrOptions as RequireAuthOptions);
      return decide(authorization, r, context.path);
    },
    route,
    requireAuth: (routeOptions = {}) => expressRequireAuth(decide, route(routeOptions)),
    check,
    verify: async (token) => {
      if (keys.syncing) await keys.syncing;
      return verified(token);
    },
    feedCurrent: async () => {
      if (view.stalenessMs() > unavailableAfterMs) await view.nextSync(unavailableAfterMs);
      return view.stalenessMs() <= unavailableAfterMs;
    },
    start: () => view.start(),
    stop: () => view.stop(),
    onLogEvent: (listener) => view.onEvent(listener),
    isSessionRevoked: (sid, userId, createdAt, tenant) => view.isSessionRevoked(sid, userId, createdAt, tenant),
    stats: () => ({ viewEntries: view.size, cachedTokens: cache.size, stalenessMs: view.stalenessMs() }),
  };
}
