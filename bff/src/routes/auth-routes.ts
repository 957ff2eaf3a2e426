import { ROUTES } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { checkCsrf } from '../http/csrf.js';
import { answerError } from '../http/error-handler.js';
import { Reply, type AuthRequest, type AuthResult, type AuthRoute } from '../http/exchange.js';
import { createJsonBodyParser } from '../http/json-body.js';
import { createAccountFailureLimit, createLoginIpLimit } from '../http/login-rate-limit.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import type { EventStreams } from '../events/event-streams.js';
import type { Guard } from '../guard/guard.js';
import { createCurrentSessionRoute, type SessionRevocationCheck } from './current-session.js';
import { createEventsRoute } from './events.js';
import type { HealthRoutes } from './health.js';
import type { IdentityProviders } from '../oidc/providers.js';
import { createLoginTransactions } from '../oidc/login-transaction.js';
import { createBackchannelLogoutRoute } from './oidc-backchannel-logout.js';
import { createOidcCallbackRoute } from './oidc-callback.js';
import { createOidcLoginRoute } from './oidc-login.js';
import { createOidcLogoutRoute } from './oidc-logout.js';
import { createJwksRoute } from './jwks.js';
import { createLoginRoute } from './login.js';
import { createLogoutAllRoute, createLogoutOthersRoute } from './end-user-sessions.js';
import { createLogoutRoute } from './logout.js';
import { createReauthenticateRoute } from './reauthenticate.js';
import { createRefreshRoute, type TenantRevocationCheck } from './refresh.js';
import { oauthEndpoints } from './oauth-endpoints.js';
import { entry, findRoute, type RouteEntry } from './route-table.js';
import { createListSessionsRoute, createRevokeSessionRoute } from './sessions.js';

/** Login bodies are tiny; anything bigger is refused before parsing. */
const BODY_LIMIT = '8kb';

export interface DispatchOptions {
  /** The request's path is not under the BFF's mount point at all (Fetch servers hand every request over). */
  outsideMount?: boolean;
}

/** A route that answers `no-store` whatever it does. */
const noStore =
  (route: AuthRoute): AuthRoute =>
  (req, reply) => {
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    return route(req, reply);
  };

/** What the routes need beyond the context. */
export interface DispatcherParts {
  guard: Guard;
  eventStreams: EventStreams;
  /** GET /healthz and GET /readyz. */
  health: HealthRoutes;
  /** The identity providers, when the `oidc` option is on. */
  idps?: IdentityProviders | undefined;
  /** A tenant revocation may miss a session a racing login wrote (Redis: shard by shard); its refresh ends it. */
  isTenantRevoked: TenantRevocationCheck;
  /** Whether the guard's view already knows a session ended (GET /session). */
  isSessionRevoked: SessionRevocationCheck;
}

/** The framework-neutral `/auth` routes: one request in, one answer out, errors included. */
export type AuthDispatcher = (req: AuthRequest, options: DispatchOptions) => Promise<AuthResult>;

/**
 * Builds the `/auth` routes and the steps every one of them takes, in the order `bff.router` always took them:
 * GET /jwks.json (public, cacheable), GET /healthz and /readyz (public, never cached); then for everything else `no-store`, the Origin and `X-CSRF` check, the JSON
 * body (capped), the route (each applies its own rate limits), and 404 for anything unmatched. Every error, from any
 * step, is answered by the one error writer, keeping the headers and cookies the route had set.
 */
export function createAuthDispatcher(ctx: BffContext, parts: DispatcherParts): AuthDispatcher {
  const { guard, eventStreams, idps, health, isTenantRevoked, isSessionRevoked } = parts;
  const parseJson = createJsonBodyParser(BODY_LIMIT);
  // Ahead of no-store and the X-CSRF check, each with its own steps: the JWKS (public, cacheable), the probes (a load
  // balancer sends no such header; they reveal nothing, see health.ts), the OIDC routes, the event stream (EventSource
  // cannot send headers; it checks Origin itself) and the OAuth endpoints (servers with client credentials and form
  // bodies).
  const early: RouteEntry[] = [
    entry('GET', ROUTES.jwks, createJwksRoute(ctx)),
    entry('GET', ROUTES.healthz, noStore(health.healthz)),
    entry('GET', ROUTES.readyz, noStore(health.readyz)),
    ...(idps ? oidcRoutes(ctx, idps) : []),
    entry('GET', ROUTES.events, createEventsRoute(ctx, eventStreams, guard.isSessionRevoked)),
    ...oauthEndpoints(ctx, guard),
  ];
  // One set of login counters: re-authentication is a password check like a login, and counts with them.
  const loginIpLimit = createLoginIpLimit(ctx);
  const accountFailureLimit = createAccountFailureLimit(ctx);
  const routes: RouteEntry[] = [
    entry('POST', ROUTES.login, createLoginRoute(ctx, loginIpLimit, accountFailureLimit)),
    entry('POST', ROUTES.reauthenticate, createReauthenticateRoute(ctx, loginIpLimit, accountFailureLimit)),
    // Proxy mode without browser tokens: nothing hands a token to the page (the refresh route exists to do just that).
    ...(ctx.options.tokens.browser ? [entry('POST', ROUTES.refresh, createRefreshRoute(ctx, isTenantRevoked))] : []),
    entry('POST', ROUTES.logout, createLogoutRoute(ctx)),
    entry('POST', ROUTES.logoutAll, createLogoutAllRoute(ctx)),
    entry('POST', ROUTES.logoutOthers, createLogoutOthersRoute(ctx)),
    entry('GET', ROUTES.currentSession, createCurrentSessionRoute(ctx, isSessionRevoked)),
    entry('GET', ROUTES.sessions, createListSessionsRoute(ctx)),
    entry('DELETE', ROUTES.session, createRevokeSessionRoute(ctx)),
  ];
  const errorOptions = { handles: 'all', onStoreUnavailable: () => ctx.metrics.storeErrors.inc() } as const;
  async function run(req: AuthRequest, reply: Reply, options: DispatchOptions): Promise<AuthResult> {
    if (options.outsideMount) throw new LatchkeyError('not_found');
    const earlyRoute = findRoute(early, req);
    if (earlyRoute) return earlyRoute(req, reply);
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    checkCsrf(req, ctx.options.origins.allowed, ctx.logger);
    req.body = await parseJson(req.bodySource);
    const route = findRoute(routes, req);
    if (!route) throw new LatchkeyError('not_found');
    return await route(req, reply);
  }

  return async (req, options) => {
    const reply = new Reply();
    try {
      return await run(req, reply, options);
    } catch (error) {
      const answer = answerError(ctx.logger, errorOptions, error, req.path)!;
      for (const [name, value] of answer.headers) reply.header(name, value);
      return reply.send(answer.status, answer.body);
    }
  };
}

/**
 * The OIDC routes, ahead of the X-CSRF check: login and callback are top-level navigations (no custom header possible;
 * state, PKCE S256 and the SameSite=Lax transaction cookie protect them), the logout redirect a navigation carrying
 * its SameSite=Strict handle cookie (set by POST /logout), and the back-channel logout a server-to-server POST
 * authenticated by its signed logout token. Nothing here reads the session cookie to act.
 */
function oidcRoutes(ctx: BffContext, idps: IdentityProviders): RouteEntry[] {
  const transactions = createLoginTransactions(ctx, idps.options);
  const callback = createOidcCallbackRoute(ctx, idps, transactions);
  return [
    entry('GET', ROUTES.oidcLogin, createOidcLoginRoute(ctx, idps, transactions)),
    // The shared callback path, and each provider's own (`/oidc/callback/<name>`): a callback is only accepted on its provider's.
    entry('GET', ROUTES.oidcCallback, callback),
    entry('GET', `${ROUTES.oidcCallback}/:provider`, callback),
    entry('GET', ROUTES.oidcLogout, createOidcLogoutRoute(ctx, idps)),
    // One route for every provider: the logout token's `iss` picks the provider whose keys must have signed it.
    entry('POST', ROUTES.oidcBackchannelLogout, createBackchannelLogoutRoute(ctx, idps)),
  ];
}
