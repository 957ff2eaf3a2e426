import { ROUTES } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { checkCsrf } from '../http/csrf.js';
import { answerError } from '../http/error-handler.js';
import { Reply, type AuthRequest, type AuthResult } from '../http/exchange.js';
import { createJsonBodyParser } from '../http/json-body.js';
import { createAccountFailureLimit, createLoginIpLimit } from '../http/login-rate-limit.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import type { EventStreams } from '../events/event-streams.js';
import type { Guard } from '../guard/guard.js';
import { createEventsRoute } from './events.js';
import { createJwksRoute } from './jwks.js';
import { createLoginRoute } from './login.js';
import { createLogoutAllRoute } from './logout-all.js';
import { createLogoutRoute } from './logout.js';
import { createRefreshRoute, type TenantRevocationCheck } from './refresh.js';
import { oauthEndpoints } from './oauth-endpoints.js';
import { entry, findRoute, matchPath, type RouteEntry } from './route-table.js';
import { createListSessionsRoute, createRevokeSessionRoute } from './sessions.js';

/** Login bodies are tiny; anything bigger is refused before parsing. */
const BODY_LIMIT = '8kb';

/**
 * Routes `bff.router` still serves as Express handlers (they stream or redirect; see docs/architecture.md):
 * `bff.fetch` answers them 404 with a message that says so.
 */
const EXPRESS_ONLY: readonly string[] = [ROUTES.oidcLogin, ROUTES.oidcCallback, ROUTES.oidcLogout, ROUTES.oidcBackchannelLogout];

export interface DispatchOptions {
  /** Which adapter carries the request: only `fetch` names the Express-only routes in its 404. */
  adapter: 'express' | 'fetch';
  /** The request's path is not under the BFF's mount point at all (Fetch servers hand every request over). */
  outsideMount?: boolean;
}

/** What the routes need beyond the context. */
export interface DispatcherParts {
  guard: Guard;
  eventStreams: EventStreams;
  /** A tenant revocation may miss a session a racing login wrote (Redis: shard by shard); its refresh ends it. */
  isTenantRevoked: TenantRevocationCheck;
}

/** The framework-neutral `/auth` routes: one request in, one answer out, errors included. */
export type AuthDispatcher = (req: AuthRequest, options: DispatchOptions) => Promise<AuthResult>;

/**
 * Builds the `/auth` routes and the steps every one of them takes, in the order `bff.router` always took them:
 * GET /jwks.json (public, cacheable); then for everything else `no-store`, the Origin and `X-CSRF` check, the JSON
 * body (capped), the route (each applies its own rate limits), and 404 for anything unmatched. Every error, from any
 * step, is answered by the one error writer, keeping the headers and cookies the route had set.
 */
export function createAuthDispatcher(ctx: BffContext, parts: DispatcherParts): AuthDispatcher {
  const { guard, eventStreams, isTenantRevoked } = parts;
  const parseJson = createJsonBodyParser(BODY_LIMIT);
  // Ahead of no-store and the X-CSRF check, each with its own steps: the JWKS (public, cacheable), the event stream
  // (EventSource cannot send headers; it checks Origin itself) and the OAuth endpoints (servers with client
  // credentials and form bodies).
  const early: RouteEntry[] = [
    entry('GET', ROUTES.jwks, createJwksRoute(ctx)),
    entry('GET', ROUTES.events, createEventsRoute(ctx, eventStreams, guard.isSessionRevoked)),
    ...oauthEndpoints(ctx, guard),
  ];
  const routes: RouteEntry[] = [
    entry('POST', ROUTES.login, createLoginRoute(ctx, createLoginIpLimit(ctx), createAccountFailureLimit(ctx))),
    entry('POST', ROUTES.refresh, createRefreshRoute(ctx, isTenantRevoked)),
    entry('POST', ROUTES.logout, createLogoutRoute(ctx)),
    entry('POST', ROUTES.logoutAll, createLogoutAllRoute(ctx)),
    entry('GET', ROUTES.sessions, createListSessionsRoute(ctx)),
    entry('DELETE', ROUTES.session, createRevokeSessionRoute(ctx)),
  ];
  const expressOnly = EXPRESS_ONLY.map((path) => path.split('/').slice(1));
  const errorOptions = { handles: 'all', onStoreUnavailable: () => ctx.metrics.storeErrors.inc() } as const;
  async function run(req: AuthRequest, reply: Reply, options: DispatchOptions): Promise<AuthResult> {
    if (options.outsideMount) throw new LatchkeyError('not_found');
    const earlyRoute = findRoute(early, req);
    if (earlyRoute) return earlyRoute(req, reply);
    // Where bff.router mounts them: before the X-CSRF check (navigations, EventSource and servers cannot send it).
    if (options.adapter === 'fetch' && expressOnly.some((segments) => matchPath(segments, req.path) !== null)) {
      throw new LatchkeyError('not_found', 'bff.fetch does not serve this route yet; mount bff.router on an Express app for it.');
    }
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    checkCsrf(req, ctx.options.allowedOrigins, ctx.logger);
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
