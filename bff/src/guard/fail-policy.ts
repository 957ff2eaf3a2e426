import { StoreUnavailableError } from '../store/types.js';
import { SCOPE_TOKEN } from '../tokens/custom-claims.js';

/** What a route (or a scope, in the guard's `scopePolicies`) does while the store is unreachable. */
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
  /**
   * Step-up (RFC 9470): the user must have authenticated on this device session at most this many seconds ago (the
   * token's `auth_time`), otherwise 401 `insufficient_user_authentication` with `max_age` in the challenge; the page
   * re-authenticates (`POST /reauthenticate`, or the IdP) without losing the session, and retries.
   */
  maxAuthAgeSeconds?: number;
  /** Step-up: the token's `acr` must be one of these, otherwise 401 `insufficient_user_authentication` naming them (`acr_values`). */
  acrValues?: readonly string[];
}

/** A route's options, validated once: the scopes it requires and the fail policy that applies to it. */
export interface GuardRoute {
  readonly scopes: readonly string[];
  readonly policy: Readonly<FailPolicy>;
  /** Step-up requirements, when the route has any. */
  readonly authentication?: Readonly<{ maxAgeSeconds?: number; acrValues?: readonly string[] }>;
}

const DEFAULT_MAX_STALENESS_MS = 30_000;

/** Validates a route's options and resolves its fail policy against the scopes' policies (TypeError on bad options). */
export function resolveRoute(options: RequireAuthOptions, scopePolicies: Readonly<Record<string, FailPolicy>> | undefined): GuardRoute {
  if (options.onStoreUnavailable !== undefined && options.onStoreUnavailable !== 'open' && options.onStoreUnavailable !== 'closed') {
    throw new TypeError("requireAuth: onStoreUnavailable must be 'open' or 'closed'");
  }
  const scopes = [...new Set(options.scopes ?? [])];
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) throw new TypeError(`requireAuth: invalid scope ${JSON.stringify(scope)}`);
  }
  const authentication = resolveStepUp(options);
  return Object.freeze({
    scopes: Object.freeze(scopes),
    policy: Object.freeze(effectivePolicy(options, scopePolicies)),
    ...(authentication ? { authentication } : {}),
  });
}

/** An `acr` value as the challenge's quoted `acr_values` can carry it: printable ASCII without spaces, quotes or backslashes. */
const ACR_VALUE = SCOPE_TOKEN;

/** Validates a route's step-up options (TypeError on bad ones); undefined when it has none. */
export function resolveStepUp(options: Pick<RequireAuthOptions, 'maxAuthAgeSeconds' | 'acrValues'>): GuardRoute['authentication'] {
  const { maxAuthAgeSeconds: maxAge, acrValues } = options;
  if (maxAge !== undefined && (!Number.isInteger(maxAge) || maxAge < 0)) throw new TypeError('requireAuth: maxAuthAgeSeconds must be an integer >= 0');
  if (acrValues !== undefined) {
    if (!Array.isArray(acrValues) || acrValues.length === 0) throw new TypeError('requireAuth: acrValues must be a non-empty array');
    for (const value of acrValues) {
      if (typeof value !== 'string' || !ACR_VALUE.test(value)) throw new TypeError(`requireAuth: invalid acr value ${JSON.stringify(value)}`);
    }
  }
  if (maxAge === undefined && acrValues === undefined) return undefined;
  return Object.freeze({
    ...(maxAge !== undefined ? { maxAgeSeconds: maxAge } : {}),
    ...(acrValues !== undefined ? { acrValues: Object.freeze([...new Set(acrValues)]) } : {}),
  });
}

/**
 * The route's fail policy: the strictest among its scopes' policies and its own when it sets one (a route that asks
 * to fail closed, like the admin router, stays closed whatever a scope allows), else its own default.
 */
export function effectivePolicy(route: RequireAuthOptions, scopePolicies: Readonly<Record<string, FailPolicy>> | undefined): FailPolicy {
  const scoped: FailPolicy[] = (route.scopes ?? []).map((scope) => scopePolicies?.[scope]).filter((p) => p !== undefined);
  const own: FailPolicy = {
    ...(route.onStoreUnavailable !== undefined ? { onStoreUnavailable: route.onStoreUnavailable } : {}),
    ...(route.maxStalenessMs !== undefined ? { maxStalenessMs: route.maxStalenessMs } : {}),
  };
  if (scoped.length === 0) return own;
  if (route.onStoreUnavailable !== undefined) scoped.push(own);
  if (scoped.some((p) => (p.onStoreUnavailable ?? 'closed') === 'closed')) return { onStoreUnavailable: 'closed' };
  // A route's own bound narrows the scopes' even when the route leaves open/closed to them (the smaller bound wins).
  const bounds = scoped.map((p) => p.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS);
  if (route.maxStalenessMs !== undefined) bounds.push(route.maxStalenessMs);
  return { onStoreUnavailable: 'open', maxStalenessMs: Math.min(...bounds) };
}

/**
 * Whether a decision may rest on a view this stale: `trusted` while it is fresh (at most `unavailableAfterMs` old),
 * `fail_open` while the policy allows deciding from an older one. Throws StoreUnavailableError when the policy says 503.
 */
export function stalenessVerdict(stalenessMs: number, unavailableAfterMs: number, policy: FailPolicy): 'trusted' | 'fail_open' {
  if (stalenessMs <= unavailableAfterMs) return 'trusted';
  if (policy.onStoreUnavailable === 'open' && stalenessMs <= (policy.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS)) return 'fail_open';
  throw new StoreUnavailableError(Number.isFinite(stalenessMs) ? `revocation view is ${Math.round(stalenessMs)} ms stale` : 'revocation view not loaded yet');
}
