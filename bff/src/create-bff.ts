import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Router, type ErrorRequestHandler } from 'express';
import { createAdmin, type BffAdmin } from './admin.js';
import type { BffContext } from './context.js';
import { createGuard, type Guard } from './guard/guard.js';
import { createVerifyRequest, type VerifyRequest } from './guard/verify-request.js';
import { createCors, createCorsPolicy } from './http/cors.js';
import { EventStreams } from './events/event-streams.js';
import { createErrorHandler } from './http/error-handler.js';
import { expressAdapter } from './adapters/express.js';
import { fetchAdapter, type FetchRequestInfo } from './adapters/fetch.js';
import { cookieHeaderOf, type CookieSource } from './http/cookie-header.js';
import { KeyRing } from './keys/key-ring.js';
import { ActivityLog } from './observability/activity-log.js';
import { createDefaultLogger } from './observability/logger.js';
import { BffMetrics } from './observability/metrics.js';
import { traceStore } from './observability/traced-store.js';
import { SessionValidator } from './session/validate.js';
import { Tracing } from './observability/tracing.js';
import { resolveBffOptions, resolveProxyOptions, type BffOptions, type ProxyOptions } from './options.js';
import { createProxyRouter, type ProxyRouter } from './routes/proxy.js';
import { ProxySockets } from './routes/proxy-sockets.js';
import { createUpgradeDispatcher } from './routes/proxy-upgrade.js';
import { createAuthDispatcher } from './routes/auth-routes.js';
import { createServerAccessTokens } from './session/server-access-token.js';
import type { DeviceSessionRecord } from './store/types.js';
import { createHealthRoutes } from './routes/health.js';
import { InFlight } from './http/in-flight.js';
import { resolveCloseOptions, shutdown, type CloseOptions } from './shutdown.js';
import { createIdentityProviders } from './oidc/providers.js';
import { createIdpAccessTokens } from './oidc/idp-access-token.js';
import { createAdminRouter, type AdminRouterOptions } from './routes/admin/admin-router.js';
import { ServerSessionReader, type ServerSession } from './session/server-session.js';
import { SessionReadCache } from './session/session-cache.js';

/** A cached read-only session answer is trusted only while the revocation view is this current (the guard's own bound). */
const VIEW_CURRENT_MS = 500;

export interface Bff {
  /** Mount it where the BFF lives, for example `app.use('/auth', bff.router)`. */
  readonly router: Router;
  /**
   * The same `/auth` routes for Fetch-standard servers (Next.js route handlers, Hono, Deno, Bun): hand it every
   * request under `/auth`. `info.clientAddress` feeds the per-IP rate limits (see docs/architecture.md).
   */
  fetch(request: Request, info?: FetchRequestInfo): Promise<Response>;
  /**
   * The guard for any server: decides one request from its `Authorization` header (a Fetch `Request`, a `Headers`,
   * or a plain headers object) on a route (`requireAuth`'s options, or `guard.route(options)` resolved once). Answers
   * `{ ok: true, claims }` or `{ ok: false, error }` (a LatchkeyError: 401, 403, 503 per the fail policy); never rejects.
   */
  verify: VerifyRequest;
  /** Guard middleware for resource routes (Express): `app.get('/api/me', bff.requireAuth(), handler)`. */
  readonly requireAuth: Guard['requireAuth'];
  /**
   * The device session of a request's cookie, for server rendering (docs/ssr.md): `{ user, session, claims }`, or
   * null when there is none (no cookie, forged, expired, ended, revoked, superseded). Read-only: never rotates the
   * credential, never sets a cookie. Honours every revocation this process's view knows of; at most one store read,
   * none while a recent answer for the same cookie is cached (`session.readCacheSeconds`). Takes an Express or Node
   * request, a Fetch `Request`, a `Headers` object or a `Cookie` header string. Rejects with LatchkeyError
   * `temporarily_unavailable` when the store cannot answer.
   */
  getSession(req: CookieSource): Promise<ServerSession | null>;
  /**
   * An access token for the device session of a request's cookie, for the server's own calls while rendering
   * (`Authorization: Bearer ...` to your APIs), or null when `getSession` would answer null. Never sent to the
   * browser, never rotates the cookie: the session is found as `getSession` finds it, and the token is signed once per
   * session and reused until near its expiry (a quarter of its lifetime, at most 30 s, before it), dropped as soon as
   * the revocation log ends the session. Rejects with LatchkeyError `temporarily_unavailable` when the store cannot answer.
   */
  getAccessToken(req: CookieSource): Promise<string | null>;
  readonly guard: Guard;
  /**
   * Writes Latchkey's errors (the guard's 401 and 503, a store outage in an admin call) as `{ error, message }`;
   * any other error goes on to the application's next error handler. Mount it after the routes that use `requireAuth()`.
   */
  readonly errorHandler: ErrorRequestHandler;
  readonly admin: BffAdmin;
  /**
   * A new admin HTTP router over `admin` (docs/admin.md), for Bearer tokens with the admin scope (default
   * `latchkey:admin`): mount it where administrators reach it, for example `app.use('/admin', bff.adminRouter())`.
   */
  adminRouter(options?: AdminRouterOptions): Router;
  /**
   * Proxy mode (docs/proxy.md): a router that forwards cookie-authenticated calls (`X-CSRF: 1`) to `target`'s path
   * prefix with the token attached server-side, so no token reaches the browser:
   * `app.use('/api/orders', bff.proxy({ target: 'https://orders.internal/v1', token: 'latchkey' }))`.
   * Throws TypeError for invalid options. With `webSocket: true` its `upgrade` handler proxies WebSockets: wire it
   * with `bff.upgrades`.
   */
  proxy(options: ProxyOptions): ProxyRouter;
  /**
   * One listener for the HTTP server's `upgrade` event (docs/proxy.md, "WebSockets"): each upgrade goes to the proxy
   * mounted at the longest matching path, `otherwise` gets the rest (another WebSocket server of the app), or they
   * are answered 404: `server.on('upgrade', bff.upgrades({ '/api/ticks': ticks }))`.
   */
  upgrades(
    mounts: Readonly<Record<string, ProxyRouter>>,
    otherwise?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
  ): (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly metrics: BffMetrics;
  readonly keyRing: KeyRing;
  /** Open `GET /events` streams of this process. */
  readonly eventStreams: EventStreams;
  /**
   * Graceful shutdown (docs/operations.md): from the first call `GET /readyz` answers 503, new event streams are
   * refused and open ones end with a reconnect hint; with `server`, it stops accepting connections. Requests in
   * flight (the BFF's, or with `server` every request of the app) get until `timeoutMs` to finish, then are cut;
   * then the guard stops following the store's revocation log, and the store is closed only with `closeStore: true`
   * (the application made it, and may still use it). Every call returns the same promise.
   */
  close(options?: CloseOptions): Promise<void>;
}

/**
 * Builds the BFF: validates options once, loads (or creates) the shared key ring, and returns the router,
 * the guard, the admin operations and the metrics.
 */
export async function createBff(input: BffOptions): Promise<Bff> {
  const options = resolveBffOptions(input);
  const logger = input.logger ?? createDefaultLogger();
  // One clock for every expiry decision (tests pass one they move; see docs/time.md).
  const clock = options.clock;
  const now = () => clock.now();
  if (options.dangerouslyAllowInsecureHttp) {
    const message = 'Latchkey: dangerouslyAllowInsecureHttp is on: the session cookie is sent over plain http. Development only.';
    logger.warn({ event: 'insecure_cookie' }, message);
    process.emitWarning(message, { code: 'LATCHKEY_INSECURE_HTTP' });
  }
  const { tokens } = options;
  const markerTtlMs = (tokens.ttlSeconds + tokens.clockSkewSeconds) * 1000 + 1000;
  const tracing = await Tracing.load(options.tracing);
  // Every part of the BFF reaches the store through this one (traced when tracing is on; the store itself when off).
  const store = tracing ? traceStore(options.store, tracing) : options.store;
  const keyRing = new KeyRing({
    store,
    secrets: options.secrets,
    algorithm: tokens.algorithm,
    retireAfterMs: markerTtlMs,
    clock,
    self: {
      issuer: tokens.issuer,
      audiences: tokens.audienceIsDefault ? null : typeof tokens.audience === 'string' ? [tokens.audience] : [...tokens.audience],
    },
  });
  await keyRing.load();

  for (const provider of options.oidc?.providers ?? []) {
    if (!provider.dangerouslyAllowInsecureIdpRequests) continue;
    const message = `Latchkey: oidc.providers.${provider.name}.dangerouslyAllowInsecureIdpRequests is on: the identity provider is reached over plain http. Development only.`;
    logger.warn({ event: 'insecure_idp', provider: provider.name }, message);
    process.emitWarning(message, { code: 'LATCHKEY_INSECURE_IDP' });
  }
  const metrics = new BffMetrics();
  const activity = new ActivityLog(now);
  const idps = options.oidc ? createIdentityProviders(options.oidc, { now, onUnreachable: () => metrics.idpUnreachable.inc() }) : undefined;
  const validator = options.validateSession
    ? new SessionValidator({
        hook: options.validateSession,
        now,
        logger,
        cacheSeconds: options.session.validateCacheSeconds,
        maxClaimsBytes: options.tokens.maxClaimsBytes,
      })
    : undefined;
  // Late-bound: the read-only session cache is built after the context, and hears of every session the context ends.
  let sessionsEnded: (sessions: readonly DeviceSessionRecord[]) => void = () => {};
  const ctx: BffContext = Object.freeze({
    options,
    store,
    keyRing,
    logger,
    metrics,
    activity,
    now,
    markerTtlMs,
    sessionsEnded: (sessions: readonly DeviceSessionRecord[]) => sessionsEnded(sessions),
    ...(idps ? { idps } : {}),
    ...(validator ? { validator } : {}),
    ...(tracing ? { tracing } : {}),
  });
  const onStoreUnavailable = () => metrics.storeErrors.inc();
  // Inside the router every error is ours; on the application only Latchkey's errors are.
  const routerErrorHandler = createErrorHandler(logger, { handles: 'all', onStoreUnavailable });
  const errorHandler = createErrorHandler(logger, { handles: 'own', onStoreUnavailable });
  const guard = createGuard({
    store,
    keyRing,
    issuer: tokens.issuer,
    audience: tokens.audience,
    algorithms: [tokens.algorithm],
    clockSkewSeconds: tokens.clockSkewSeconds,
    maxTokenBytes: tokens.maxBytes,
    scopePolicies: options.scopePolicies,
    acceptDeploymentIssuers: true,
    audienceIsDefault: tokens.audienceIsDefault,
    metrics,
    logger,
    clock,
    ...(tracing ? { tracing } : {}),
  });
  await guard.start();

  // One short memory of cookie resolutions for bff.getSession, bff.getAccessToken and bff.proxy (session-cache.ts).
  const sessionCache = new SessionReadCache(ctx, {
    isSessionRevoked: guard.isSessionRevoked,
    isCurrent: () => guard.stats().stalenessMs <= VIEW_CURRENT_MS,
  });
  sessionsEnded = (sessions) => sessionCache.forget(sessions);
  const sessionReader = new ServerSessionReader(sessionCache);

  const eventStreams = new EventStreams({
    maxPerUser: options.eventStreams.maxPerUser,
    maxPerDevice: options.eventStreams.maxPerDevice,
    maxPerProcess: options.eventStreams.maxPerProcess,
    heartbeatMs: options.eventStreams.heartbeatSeconds * 1000,
    retryMs: options.eventStreams.retryMs,
    logger,
    metrics,
    now,
    lookup: (key) => store.getSession(key, now()),
  });
  const stopFollowing = guard.onLogEvent((event) => {
    eventStreams.dispatch(event);
    activity.recordLogEvent(event);
  });

  let closing: Promise<void> | undefined;
  const inFlight = new InFlight();
  const health = createHealthRoutes(ctx, { feedCurrent: () => guard.feedCurrent(), closing: () => closing !== undefined });
  const isSessionRevoked = (s: DeviceSessionRecord) => guard.isSessionRevoked(s.sid, s.userId, s.createdAt, s.tenant);
  const dispatch = createAuthDispatcher(ctx, {
    guard,
    eventStreams,
    idps,
    health,
    // A tenant revocation may miss a session a racing login wrote (Redis: shard by shard); its refresh ends it.
    isTenantRevoked: (s) => s.tenant !== undefined && isSessionRevoked(s),
    isSessionRevoked,
  });
  // The server's own access tokens per device session (bff.proxy, bff.getAccessToken); entries die with their session through the log.
  const serverTokens = createServerAccessTokens(ctx, { isRevoked: isSessionRevoked });
  const stopForgetting = guard.onLogEvent((event) => serverTokens.onRevocationEvent(event));
  // The IdP access tokens of `bff.proxy({ token: 'idp' })`: one per BFF, so every proxy shares one renewal per session.
  const idpTokens = idps ? createIdpAccessTokens(ctx) : undefined;
  // WebSockets open through the proxies: closed on every instance when the log ends their session.
  const proxySockets = new ProxySockets(isSessionRevoked);
  const stopClosingSockets = guard.onLogEvent((event) => proxySockets.onRevocationEvent(event));
  const corsPolicy = options.origins.cors && options.origins.allowed ? createCorsPolicy(options.origins.allowed) : undefined;

  const router = Router();
  // Counted until the answer is written (or the client goes): what close() lets finish. An event stream counts too, until close() ends it.
  router.use((_req, res, next) => {
    // `on`, not `once`: a response closes once, and `once` wraps and later removes the listener on every request.
    res.on('close', inFlight.enter());
    next();
  });
  // First: preflights are answered here, and every answer (errors included) carries the CORS headers a page needs to read it.
  if (options.origins.cors && options.origins.allowed) router.use(createCors(options.origins.allowed));
  // The framework-neutral routes (routes/auth-routes.ts): JWKS, the probes, the OIDC routes, the event stream and the
  // OAuth endpoints, then X-CSRF and the JSON body for the cookie routes, and 404 for anything else.
  router.use(expressAdapter(dispatch));
  router.use(routerErrorHandler);

  const admin = createAdmin(ctx);
  const fetchHandler = fetchAdapter(dispatch, corsPolicy);
  const stopFollowingLog = () => {
    stopFollowing();
    guard.stop();
  };
  return Object.freeze({
    router,
    fetch: async (request: Request, info?: FetchRequestInfo) => {
      const leave = inFlight.enter();
      try {
        return await fetchHandler(request, info);
      } finally {
        leave();
      }
    },
    verify: createVerifyRequest(guard),
    requireAuth: guard.requireAuth,
    getSession: async (req: CookieSource) => sessionReader.read(cookieHeaderOf(req)),
    getAccessToken: async (req: CookieSource) => {
      const found = await sessionReader.readRecord(cookieHeaderOf(req));
      return found === null ? null : (await serverTokens.get(found.record)).token;
    },
    guard,
    errorHandler,
    admin,
    adminRouter: (adminOptions?: AdminRouterOptions) => createAdminRouter(ctx, guard, admin, adminOptions),
    proxy: (proxyOptions: ProxyOptions) => {
      const resolved = resolveProxyOptions(proxyOptions);
      if (resolved.token === 'idp' && idpTokens === undefined) throw new TypeError("Invalid bff.proxy options: token 'idp' needs the BFF's oidc option");
      // A proxied call records activity only once the recorded activity is proxyRotationSeconds old: with an idle
      // timeout no longer than that, a session in constant use through the proxy would still end as idle.
      if (options.session.proxyRotationSeconds >= options.session.idleTimeoutSeconds) {
        throw new TypeError('Invalid bff.proxy options: the BFF needs session.proxyRotationSeconds less than session.idleTimeoutSeconds');
      }
      return createProxyRouter(
        ctx,
        { tokens: serverTokens, isRevoked: isSessionRevoked, sockets: proxySockets, sessionCache, ...(idpTokens ? { idpTokens } : {}) },
        resolved,
      );
    },
    upgrades: createUpgradeDispatcher,
    metrics,
    keyRing,
    eventStreams,
    close: (closeOptions?: CloseOptions) => {
      if (closing) return closing;
      const resolved = resolveCloseOptions(closeOptions);
      stopForgetting();
      stopClosingSockets();
      proxySockets.closeAll();
      closing = shutdown({ ...resolved, logger, store, inFlight, eventStreams, stopFollowingLog });
      return closing;
    },
  });
}
