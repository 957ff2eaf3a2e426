import { ROUTES } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { checkCsrf } from '../http/csrf.js';
import { answerError } from '../http/error-handler.js';
import { Reply, type AuthRequest, type AuthResult, type AuthRoute } from '../http/exchange.js';
import { createJsonBodyParser } from '../http/json-body.js';
import { createAccountFailureLimit, createLoginIpLimit } from '../http/login-rate-limit.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { createCurrentSessionRoute, type SessionRevocationCheck } from './current-session.js';
import type { HealthRoutes } from './health.js';
import { createJwksRoute } from './jwks.js';
import { createLoginRoute } from './login.js';
import { createLogoutAllRoute } from './logout-all.js';
import { createLogoutOthersRoute } from './logout-others.js';
import { createLogoutRoute } from './logout.js';
import { createRefreshRoute, type TenantRevocationCheck } from './refresh.js';
import { createListSessionsRoute, createRevokeSessionRoute } from './sessions.js';

/** Login bodies are tiny; anything bigger is refused before parsing. */
const BODY_LIMIT = '8kb';

/**
 * Routes `bff.router` still serves as Express handlers (they stream, redirect or take form bodies; see
 * docs/architecture.md): `bff.fetch` answers them 404 with a message that says so.
 */
const EXPRESS_ONLY: readonly string[] = [
  ROUTES.oidcLogin,
  ROUTES.oidcCallback,
  ROUTES.oidcLogout,
  ROUTES.oidcBackchannelLogout,
  ROUTES.events,
  ROUTES.introspect,
  ROUTES.revoke,
];

export interface DispatchOptions {
  /** Which adapter carries the request: only `fetch` names the Express-only routes in its 404. */
  adapter: 'express' | 'fetch';
  /** The request's path is not under the BFF's mount point at all (Fetch servers hand every request over). */
  outsideMount?: boolean;
}

/** The framework-neutral `/auth` routes: one request in, one answer out, errors included. */
export type AuthDispatcher = (req: AuthRequest, options: DispatchOptions) => Promise<AuthResult>;

interface RouteEntry {
  method: 'GET' | 'POST' | 'DELETE';
  /** `/sessions/:id`: literal segments match case-insensitively (as Express does), `:name` one segment. */
  segments: readonly string[];
  route: AuthRoute;
}

const entry = (method: RouteEntry['method'], path: string, route: AuthRoute): RouteEntry => ({ method, segments: path.split('/').slice(1), route });

/** Express's matching: case-insensitive literals, one optional trailing slash, parameters URL-decoded (400 when they cannot be). */
function matchPath(segments: readonly string[], path: string): Record<string, string> | null {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const parts = trimmed.split('/').slice(1);
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (const [i, segment] of segments.entries()) {
    const part = parts[i]!;
    if (segment.startsWith(':')) {
      if (part === '') return null;
      try {
        params[segment.slice(1)] = decodeURIComponent(part);
      } catch {
        throw new LatchkeyError('invalid_request');
      }
    } else if (segment.toLowerCase() !== part.toLowerCase()) {
      return null;
    }
  }
  return params;
}

/**
 * Builds the `/auth` routes and the steps every one of them takes, in the order `bff.router` always took them:
 * GET /jwks.json (public, cacheable), GET /healthz and /readyz (public, never cached); then for everything else `no-store`, the Origin and `X-CSRF` check, the JSON
 * body (capped), the route (each applies its own rate limits), and 404 for anything unmatched. Every error, from any
 * step, is answered by the one error writer, keeping the headers and cookies the route had set.
 */
export function createAuthDispatcher(
  ctx: BffContext,
  isTenantRevoked: TenantRevocationCheck,
  isSessionRevoked: SessionRevocationCheck,
  health: HealthRoutes,
): AuthDispatcher {
  const jwks = createJwksRoute(ctx);
  const parseJson = createJsonBodyParser(BODY_LIMIT);
  const routes: RouteEntry[] = [
    entry('POST', ROUTES.login, createLoginRoute(ctx, createLoginIpLimit(ctx), createAccountFailureLimit(ctx))),
    // A tenant revocation may miss a session a racing login wrote (Redis: shard by shard); its refresh ends it.
    // Proxy mode without browser tokens: nothing hands a token to the page (the refresh route exists to do just that).
    ...(ctx.options.browserTokens ? [entry('POST', ROUTES.refresh, createRefreshRoute(ctx, isTenantRevoked))] : []),
    entry('POST', ROUTES.logout, createLogoutRoute(ctx)),
    entry('POST', ROUTES.logoutAll, createLogoutAllRoute(ctx)),
    entry('POST', ROUTES.logoutOthers, createLogoutOthersRoute(ctx)),
    entry('GET', ROUTES.currentSession, createCurrentSessionRoute(ctx, isSessionRevoked)),
    entry('GET', ROUTES.sessions, createListSessionsRoute(ctx)),
    entry('DELETE', ROUTES.session, createRevokeSessionRoute(ctx)),
  ];
  const jwksSegments = ROUTES.jwks.split('/').slice(1);
  const probes = [
    { segments: ROUTES.healthz.split('/').slice(1), route: health.healthz },
    { segments: ROUTES.readyz.split('/').slice(1), route: health.readyz },
  ];
  const expressOnly = EXPRESS_ONLY.map((path) => path.split('/').slice(1));
  const errorOptions = { handles: 'all', onStoreUnavailable: () => ctx.metrics.storeErrors.inc() } as const;
  // HEAD is answered as GET (without the body), as Express does.
  const methodOf = (req: AuthRequest) => (req.method === 'HEAD' ? 'GET' : req.method);

  async function run(req: AuthRequest, reply: Reply, options: DispatchOptions): Promise<AuthResult> {
    if (options.outsideMount) throw new LatchkeyError('not_found');
    if (methodOf(req) === 'GET' && matchPath(jwksSegments, req.path)) return jwks(req, reply);
    // The probes: before the X-CSRF check (a load balancer sends no such header; they reveal nothing, see health.ts).
    const probe = methodOf(req) === 'GET' ? probes.find(({ segments }) => matchPath(segments, req.path)) : undefined;
    if (probe) {
      for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
      return probe.route(req, reply);
    }
    // Where bff.router mounts them: before the X-CSRF check (navigations, EventSource and servers cannot send it).
    if (options.adapter === 'fetch' && expressOnly.some((segments) => matchPath(segments, req.path) !== null)) {
      throw new LatchkeyError('not_found', 'bff.fetch does not serve this route yet; mount bff.router on an Express app for it.');
    }
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    checkCsrf(req, ctx.options.allowedOrigins, ctx.logger);
    req.body = await parseJson(req.bodySource);
    for (const { method, segments, route } of routes) {
      if (method !== methodOf(req)) continue;
      const params = matchPath(segments, req.path);
      if (params === null) continue;
      req.params = params;
      return await route(req, reply);
    }
    throw new LatchkeyError('not_found');
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
