import { EventEmitter } from 'node:events';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { Router, type Request, type Response } from 'express';
import { Agent, errors as undiciErrors, request as undiciRequest } from 'undici';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { checkCsrf } from '../http/csrf.js';
import { answerError } from '../http/error-handler.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../http/hop-by-hop.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { upstreamUrl } from '../http/proxy-path.js';
import type { ResolvedProxyOptions } from '../options.js';
import { authenticateSession } from '../session/authenticate.js';
import type { ServerAccessTokens } from '../session/server-access-token.js';
import { isIdpUnavailable, type IdpAccessTokens } from '../oidc/idp-access-token.js';
import { StoreUnavailableError, type DeviceSessionRecord } from '../store/types.js';
import { tracedRoute, type RouteTrace } from '../observability/tracing-route.js';
import { LRUCache } from 'lru-cache';
import { sha256 } from '../crypto/hash.js';
import { readCookie } from '../session/cookie.js';
import type { SessionReadCache } from '../session/session-cache.js';
import { stepUpError } from '../guard/step-up.js';
import { authenticationOf } from '../tokens/issue-access-token.js';
import type { ProxySockets } from './proxy-sockets.js';
import { createUpgradeHandler, type ProxyOutcome, type UpgradeDeps, type UpgradeHandler } from './proxy-upgrade.js';

/**
 * Marks the BFF's own session-ending 401 on a proxied path, so a client tells it from the upstream's 401 (passed
 * through, never a sign-out). An upstream cannot forge it: the header is dropped from every upstream answer.
 */
export const SESSION_ENDED_HEADER = 'X-Latchkey-Session';

class BodyTooLarge extends Error {}

/** Counts the streamed request body and fails it once it passes the limit (a body without Content-Length). */
function bodyLimit(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > limit) callback(new BodyTooLarge());
      else callback(null, chunk);
    },
  });
}

/**
 * Streams the upstream's body to the client: what `stream.pipeline` does for two streams (either side failing or
 * closing early ends the other: a client that goes away aborts the upstream body), without the AbortController and
 * the AbortError with its stack trace that `pipeline` makes for every call.
 */
function relay(body: Readable, res: Response): void {
  body.on('error', () => res.destroy());
  res.once('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  body.pipe(res);
}

/** What undici's failure means for the browser: the upstream too slow (504) or unreachable (502). */
function upstreamError(error: unknown): LatchkeyError {
  if (error instanceof BodyTooLarge || (error as { cause?: unknown }).cause instanceof BodyTooLarge) return new LatchkeyError('payload_too_large');
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new LatchkeyError('upstream_timeout', undefined, { cause: error });
  }
  return new LatchkeyError('upstream_unavailable', undefined, { cause: error });
}

/** `latchkey_proxy_requests_total{outcome}` of a call that was not forwarded. */
export function outcomeOf(error: unknown): Exclude<ProxyOutcome, 'forwarded'> {
  if (error instanceof StoreUnavailableError) return 'store_unavailable';
  if (!(error instanceof LatchkeyError)) return 'error';
  if (error.code === 'upstream_unavailable' || error.code === 'upstream_timeout') return error.code;
  if (isIdpUnavailable(error)) return 'idp_unavailable';
  if (error.code === 'temporarily_unavailable') return 'store_unavailable';
  if (error.code === 'insufficient_user_authentication') return 'refused';
  if (error.status === 401) return 'session_ended';
  return error.status < 500 ? 'refused' : 'error';
}

export interface ProxyDeps {
  tokens: ServerAccessTokens;
  /** `token: 'idp'`: present when the BFF has the `oidc` option (bff.proxy refuses 'idp' otherwise). */
  idpTokens?: IdpAccessTokens;
  isRevoked(session: DeviceSessionRecord): boolean;
  /** The cookie resolutions shared with bff.getSession (session-cache.ts): a proxied call not due for rotation reads no store. */
  sessionCache?: SessionReadCache;
  /** The WebSockets open through any proxy of this BFF, closed when their session ends (proxy-sockets.ts). */
  sockets: ProxySockets;
}

/** `bff.proxy`'s router, with the handler of WebSocket upgrades for the server's `upgrade` event (proxy-upgrade.ts). */
export type ProxyRouter = Router & { upgrade: UpgradeHandler };

/**
 * `bff.proxy(options)`: forwards cookie-authenticated calls to one upstream path prefix, attaching the token
 * server-side (docs/proxy.md). Per request: the Origin and `X-CSRF` check, the method allow-list, the path (never
 * outside the target's prefix), the device session from its cookie (sliding rotation on `session.proxyRotationSeconds`, the
 * refresh route's session-ending 401s), the local revocation view, the required scopes, the token, then the call:
 * bodies streamed both ways under the body limit and the timeout, hop-by-hop headers, `Cookie` and `Authorization`
 * dropped upstream, `Set-Cookie` dropped downstream, `X-Forwarded-*` set by the BFF. The upstream's status passes
 * through as it is (its 401 and 403 never sign anyone out).
 */
/**
 * The request's URL below the mount point, as the client sent it. Express 4 drops the slash after the mount
 * (`/p//evil.example/x` reaches the router as `/evil.example/x`), which would hide a path Express 5 shows and this
 * router refuses; so it is cut from the original URL (an absolute-form target, which does not start with the mount,
 * keeps `req.url`, as both versions give it).
 */
function urlBelowMount(req: Request): string {
  if (!req.originalUrl.startsWith(req.baseUrl)) return req.url;
  const below = req.originalUrl.slice(req.baseUrl.length);
  return below.startsWith('/') ? below : `/${below}`;
}

export function createProxyRouter(ctx: BffContext, deps: ProxyDeps, options: ResolvedProxyOptions): ProxyRouter {
  // One connection pool per proxy: keep-alive to the upstream, and undici's own timeouts (headers, body, connect).
  const agent = new Agent({ headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, connectTimeout: Math.min(options.timeoutMs, 10_000) });
  const router = Router();
  const methods = new Set<string>(options.methods);
  const rotateAfterMs = ctx.options.session.proxyRotationSeconds * 1000;

  function fail(req: Request, res: Response, error: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const answer = answerError(ctx.logger, { handles: 'all', onStoreUnavailable: () => ctx.metrics.storeErrors.inc() }, error, req.originalUrl.split('?')[0]!)!;
    for (const [name, value] of NO_STORE_HEADERS) res.set(name, value);
    for (const [name, value] of answer.headers) res.set(name, value);
    // The cookie stays: the client's GET /session then learns why the session ended (and clears it), where a cleared
    // cookie would only ever say `no_session`.
    // A step-up refusal ends nothing: the page re-authenticates and retries.
    if (answer.status === 401 && error instanceof LatchkeyError && error.code !== 'insufficient_user_authentication') res.set(SESSION_ENDED_HEADER, error.code);
    res.status(answer.status).json(answer.body);
  }

  // Fail-open proxies only: the sessions recently resolved per cookie value (its hash), for a store outage.
  const recent = options.onStoreUnavailable === 'open' ? new LRUCache<string, { session: DeviceSessionRecord; at: number }>({ max: 10_000 }) : undefined;

  /**
   * The device session of the request's cookie. When the store cannot answer, a fail-closed proxy (the default)
   * answers 503; a fail-open one uses this exact cookie's resolution if it is at most `maxStalenessMs` old (and the
   * local revocation view, checked after, does not know it ended), rotating nothing: counted as `store_unavailable`
   * in the store errors, and marked on the span.
   */
  async function authenticate(req: Request, trace: RouteTrace) {
    const raw = recent && readCookie(req.get('cookie'), ctx.options.cookie.name);
    const key = raw ? sha256(raw) : undefined;
    try {
      const authenticated = await authenticateSession(ctx, req.get('cookie'), {
        ip: req.ip,
        route: 'proxy',
        rotateAfterMs,
        activity: true,
        ...(deps.sessionCache ? { cache: deps.sessionCache } : {}),
      });
      if (key) recent!.set(key, { session: authenticated.session, at: ctx.now() });
      return authenticated;
    } catch (error) {
      const hit = key === undefined ? undefined : recent!.get(key);
      const now = ctx.now();
      if (!(error instanceof StoreUnavailableError) || hit === undefined || now - hit.at > options.maxStalenessMs) throw error;
      if (Math.min(hit.session.idleExpiresAt, hit.session.absoluteExpiresAt) <= now) throw error;
      ctx.metrics.storeErrors.inc();
      trace.attribute('latchkey.fail_open', true);
      return { session: hit.session, setCookies: [] };
    }
  }

  /** A call whose client disconnected before it could be answered: counted, logged at debug level, never an error. */
  function clientGone(req: Request, trace: RouteTrace): void {
    ctx.metrics.proxyRequests.inc({ outcome: 'client_gone' });
    trace.outcome('client_gone');
    ctx.logger.debug({ event: 'proxy_client_gone', path: req.originalUrl.split('?')[0] }, 'client disconnected before the upstream answered');
  }

  async function tokenFor(req: Request, session: DeviceSessionRecord): Promise<string | null> {
    if (options.token === 'none') return null;
    if (options.token === 'latchkey') return (await deps.tokens.get(session)).token;
    if (options.token === 'idp') return deps.idpTokens!.get(session);
    try {
      return await options.token({ userId: session.userId, sid: session.sid, claims: session.claims ?? {}, req });
    } catch (error) {
      // Never the function's own message: it may carry an IdP token or an upstream answer.
      throw new LatchkeyError('upstream_unavailable', 'The token for the upstream service could not be obtained.', { cause: error });
    }
  }

  const forward = tracedRoute(ctx, 'latchkey.proxy', async (req: Request, res: Response, trace) => {
    checkCsrf(req, ctx.options.origins.allowed, ctx.logger);
    if (!methods.has(req.method)) throw new LatchkeyError('not_found');
    const url = upstreamUrl(options.target, urlBelowMount(req));
    const declared = Number(req.get('content-length') ?? '0');
    if (!(declared <= options.bodyLimitBytes)) throw new LatchkeyError('payload_too_large');

    let { session, setCookies } = await authenticate(req, trace);
    if (stepUpError(authenticationOf(session), options.authentication, ctx.now()) !== null && deps.sessionCache) {
      // A remembered session may predate a re-authentication (POST /auth/reauthenticate, on any instance): the store
      // decides before the call is refused.
      deps.sessionCache.drop(req.get('cookie'));
      ({ session, setCookies } = await authenticate(req, trace));
    }
    trace.session(session);
    if (deps.isRevoked(session)) throw new LatchkeyError('session_revoked');
    const granted = typeof session.claims?.scope === 'string' ? session.claims.scope.split(' ') : [];
    if (!options.scopes.every((scope) => granted.includes(scope))) {
      throw new LatchkeyError('insufficient_scope', 'Your session lacks a scope this API requires.');
    }
    const stepUp = stepUpError(authenticationOf(session), options.authentication, ctx.now());
    if (stepUp !== null) throw stepUp;
    const token = await tokenFor(req, session);

    const headers = upstreamRequestHeaders(req.headers);
    if (token !== null) headers.authorization = `Bearer ${token}`;
    headers['x-forwarded-for'] = req.ip ?? '';
    headers['x-forwarded-proto'] = req.protocol;
    headers['x-forwarded-host'] = req.get('host') ?? '';
    headers['x-forwarded-prefix'] = req.baseUrl;
    const hasBody = req.headers['transfer-encoding'] !== undefined || declared > 0;
    // The client went away while the session and the token were resolved: nothing to forward, nobody to answer.
    if (res.destroyed) return clientGone(req, trace);
    // Aborts the upstream call when the client goes before its answer (after it, the relay ends both). undici
    // takes an EventEmitter as its signal: an AbortController per call costs about twenty times as much.
    const signal = new EventEmitter();
    res.once('close', () => {
      if (!res.writableFinished) signal.emit('abort');
    });
    const upstream = await undiciRequest(url, {
      dispatcher: agent,
      method: req.method as 'GET',
      headers,
      body: hasBody ? req.pipe(bodyLimit(options.bodyLimitBytes)) : null,
      signal,
    }).catch((error: unknown) => {
      // The client's own departure (the abort above, or its request body cut short) is no upstream failure.
      if (res.destroyed) return null;
      throw upstreamError(error);
    });
    if (upstream === null) return clientGone(req, trace);

    res.status(upstream.statusCode);
    const passed = downstreamResponseHeaders(upstream.headers);
    delete passed[SESSION_ENDED_HEADER.toLowerCase()];
    for (const [name, value] of Object.entries(passed)) res.setHeader(name, value);
    if (setCookies.length > 0) {
      // This answer carries the rotated credential: no cache may keep it.
      for (const [name, value] of NO_STORE_HEADERS) res.setHeader(name, value);
      res.setHeader('Set-Cookie', setCookies);
    }
    // Server-sent events and other streams of unknown length: the headers go out at once, the client may wait long for
    // a first chunk. An answer of known length sends them with its body, one write instead of two.
    if (upstream.headers['content-length'] === undefined) res.flushHeaders();
    relay(upstream.body, res);
    ctx.metrics.proxyRequests.inc({ outcome: 'forwarded' });
    trace.attribute('http.response.status_code', upstream.statusCode);
    trace.outcome('forwarded');
  });
  router.use(async (req, res) => {
    try {
      await forward(req, res);
    } catch (error) {
      ctx.metrics.proxyRequests.inc({ outcome: outcomeOf(error) });
      fail(req, res, error);
    }
  });
  // Upgrades use the same token strategy; the token function's `req` is then Node's IncomingMessage (ProxyTokenContext).
  const upgrade = createUpgradeHandler(ctx, { ...deps, tokenFor: tokenFor as unknown as UpgradeDeps['tokenFor'], outcomeOf }, options);
  return Object.assign(router, { upgrade });
}
