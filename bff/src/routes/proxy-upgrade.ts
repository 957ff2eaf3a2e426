import { STATUS_CODES, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { logCsrfRejection } from '../http/csrf.js';
import { answerError } from '../http/error-handler.js';
import type { RequestView } from '../http/exchange.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../http/hop-by-hop.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { upstreamUrl } from '../http/proxy-path.js';
import type { ResolvedProxyOptions } from '../options.js';
import { stepUpError } from '../guard/step-up.js';
import { authenticateSession } from '../session/authenticate.js';
import { authenticationOf } from '../tokens/issue-access-token.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { closeFrame, endSoon, FrameBoundaries, SESSION_ENDED_CLOSE_CODE, type ProxySockets } from './proxy-sockets.js';

/** `latchkey_proxy_requests_total`'s outcome label. */
export type ProxyOutcome =
  'forwarded' | 'session_ended' | 'refused' | 'upstream_unavailable' | 'upstream_timeout' | 'idp_unavailable' | 'store_unavailable' | 'client_gone' | 'error';

/** The session-ending marker header of the proxy's own 401 (see proxy.ts). */
const SESSION_ENDED_HEADER = 'X-Latchkey-Session';
/** Longest timer Node keeps (about 24.8 days); a session's absolute timeout further away is re-armed then. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** What is kept of an upstream's refusal of the upgrade (its error body). */
const MAX_REFUSAL_BYTES = 64 * 1024;

/** `(req, socket, head)` of Node's `upgrade` event, for the proxy mounted at `mountPath`. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, mountPath: string) => void;

export interface UpgradeDeps {
  isRevoked(session: DeviceSessionRecord): boolean;
  sockets: ProxySockets;
  /** The proxy's own token strategy (proxy.ts), so a WebSocket carries what an HTTP call through it would. */
  tokenFor(req: IncomingMessage, session: DeviceSessionRecord): Promise<string | null>;
  /** The outcome label of a call that was not forwarded (proxy.ts). */
  outcomeOf(error: unknown): ProxyOutcome;
}

/** The upgrade request as the CSRF helpers read it. Node's view: no `trust proxy` here (docs/proxy.md). */
function viewOf(req: IncomingMessage, path: string): RequestView {
  return {
    method: req.method ?? 'GET',
    path,
    baseUrl: '',
    protocol: (req.socket as TLSSocket).encrypted ? 'https' : 'http',
    ip: req.socket.remoteAddress,
    get: (name) => {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/**
 * A browser cannot set `X-CSRF` on a WebSocket, but it always sends `Origin` on one: so the Origin is required and
 * must be on the allow-list (default: the request's own origin). A missing one means a client that is not a page, or
 * a page whose browser hides it; neither gets a socket with the user's cookie.
 */
function checkOrigin(ctx: BffContext, view: RequestView): void {
  const origin = view.get('origin');
  const allowed = ctx.options.origins.allowed ?? [`${view.protocol}://${view.get('host') ?? ''}`];
  if (origin !== undefined && allowed.includes(origin)) return;
  logCsrfRejection(ctx.logger, view, 'origin');
  throw new LatchkeyError('csrf_rejected', origin === undefined ? 'A WebSocket needs an Origin header.' : `Origin ${origin.slice(0, 200)} is not allowed.`);
}

/** The request's URL below the mount point, as sent; undefined when it is not under it. */
function urlBelow(url: string, mountPath: string): string | undefined {
  const mount = mountPath.endsWith('/') ? mountPath.slice(0, -1) : mountPath;
  if (url === mount || url.startsWith(`${mount}?`)) return `/${url.slice(mount.length)}`;
  return url.startsWith(`${mount}/`) ? url.slice(mount.length) : undefined;
}

/** An HTTP answer on the raw socket of a refused upgrade, then the socket closes. */
function writeAnswer(socket: Duplex, status: number, headers: ReadonlyArray<readonly [string, string]>, body: Buffer): void {
  if (socket.destroyed) return;
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    ...headers.map(([n, v]) => `${n}: ${v}`),
    `Content-Length: ${body.length}`,
    'Connection: close',
  ];
  socket.write(`${head.join('\r\n')}\r\n\r\n`);
  socket.write(body);
  endSoon(socket);
}

/**
 * WebSocket upgrades through `bff.proxy` (docs/proxy.md, "WebSockets"). Per upgrade, in this order, each refusal an
 * HTTP answer with the proxy's JSON errors before anything is forwarded: `webSocket` enabled on this proxy, an
 * `Upgrade: websocket` GET, the Origin (required, on the allow-list), the path (the HTTP rules: never outside the
 * target's prefix), the device session from its cookie (never rotated here: a browser may drop a `Set-Cookie` on a
 * 101, and the credential would then look stolen), the local revocation view, the scopes, the token. Then the upgrade
 * goes upstream with the token attached and the HTTP call's header rules; the upstream's 101 comes back without its
 * `Set-Cookie`, and from then on the bytes are piped both ways. A session that ends while the socket is open (any
 * event of the revocation log that the local view maps to it, or its absolute timeout) closes it with 4401 and the
 * session-ending code as reason.
 *
 * Node's own `http.request` forwards the upgrade: undici's request API cannot hand over an upgraded socket for
 * piping, and a proxy library (http-proxy-3) would add a dependency for the one call made here while the checks,
 * the asynchronous token and the close on revocation would still be this file's.
 */
export function createUpgradeHandler(ctx: BffContext, deps: UpgradeDeps, options: ResolvedProxyOptions): UpgradeHandler {
  const scopes = options.scopes;

  function refuse(req: IncomingMessage, socket: Duplex, error: unknown): void {
    ctx.metrics.proxyRequests.inc({ outcome: deps.outcomeOf(error) });
    const answer = answerError(ctx.logger, { handles: 'all', onStoreUnavailable: () => ctx.metrics.storeErrors.inc() }, error, (req.url ?? '').split('?')[0]!)!;
    const headers: Array<readonly [string, string]> = [...NO_STORE_HEADERS, ...answer.headers, ['Content-Type', 'application/json; charset=utf-8']];
    if (answer.status === 401 && error instanceof LatchkeyError && error.code !== 'insufficient_user_authentication')
      headers.push([SESSION_ENDED_HEADER, error.code]);
    writeAnswer(socket, answer.status, headers, Buffer.from(JSON.stringify(answer.body)));
  }

  async function check(req: IncomingMessage, mountPath: string) {
    const url = req.url ?? '/';
    const view = viewOf(req, url.split('?')[0]!);
    if (!options.webSocket) throw new LatchkeyError('not_found');
    if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') throw new LatchkeyError('not_found');
    checkOrigin(ctx, view);
    const below = urlBelow(url, mountPath);
    if (below === undefined) throw new LatchkeyError('not_found');
    const target = upstreamUrl(options.target, below);
    const { session } = await authenticateSession(ctx, req.headers.cookie, { ip: view.ip, route: 'proxy', rotateAfterMs: null, activity: true });
    if (deps.isRevoked(session)) throw new LatchkeyError('session_revoked');
    const granted = typeof session.claims?.scope === 'string' ? session.claims.scope.split(' ') : [];
    if (!scopes.every((scope) => granted.includes(scope))) throw new LatchkeyError('insufficient_scope', 'Your session lacks a scope this API requires.');
    const stepUp = stepUpError(authenticationOf(session), options.authentication, ctx.now());
    if (stepUp !== null) throw stepUp;
    const token = await deps.tokenFor(req, session);
    return { view, target, session, token };
  }

  function open(socket: Duplex, upstream: Duplex, upstreamHead: Buffer, head: Buffer, session: DeviceSessionRecord): void {
    const frames = new FrameBoundaries();
    let closing = false;
    let expiry: NodeJS.Timeout | undefined;
    const close = (code: number, reason: string) => {
      if (closing) return;
      closing = true;
      // Nothing more from the page reaches the upstream; the page gets the close frame at the next frame boundary.
      socket.unpipe(upstream);
      frames.once('end', () => upstream.destroy());
      frames.closeWith(closeFrame(code, reason));
      setTimeout(() => {
        upstream.destroy();
        socket.destroy();
      }, 1000).unref();
    };
    const unregister = deps.sockets.add({ session, close });
    const armExpiry = () => {
      const left = session.absoluteExpiresAt - ctx.now();
      if (left <= 0) return close(SESSION_ENDED_CLOSE_CODE, 'session_expired');
      expiry = setTimeout(armExpiry, Math.min(left, MAX_TIMER_MS));
      expiry.unref();
    };
    socket.on('close', () => {
      unregister();
      clearTimeout(expiry);
      upstream.destroy();
    });
    upstream.on('error', () => socket.destroy());
    upstream.on('close', () => {
      if (!closing && !frames.writableEnded) socket.destroy();
    });
    if (upstreamHead.length > 0) frames.write(upstreamHead);
    upstream.pipe(frames).pipe(socket);
    if (head.length > 0) upstream.write(head);
    socket.pipe(upstream);
    armExpiry();
    // Ended between the check and now? The local view already knows.
    if (deps.isRevoked(session)) close(SESSION_ENDED_CLOSE_CODE, 'session_revoked');
  }

  return (req, socket, head, mountPath) => {
    // A reset from either side ends the socket, never the process.
    socket.on('error', () => socket.destroy());
    void (async () => {
      let checked: Awaited<ReturnType<typeof check>>;
      try {
        checked = await check(req, mountPath);
      } catch (error) {
        return refuse(req, socket, error);
      }
      if (socket.destroyed) return;
      const { view, target, session, token } = checked;
      const headers: Record<string, string | string[]> = upstreamRequestHeaders(req.headers);
      headers.connection = 'Upgrade';
      headers.upgrade = 'websocket';
      if (token !== null) headers.authorization = `Bearer ${token}`;
      headers['x-forwarded-for'] = view.ip ?? '';
      headers['x-forwarded-proto'] = view.protocol;
      headers['x-forwarded-host'] = view.get('host') ?? '';
      headers['x-forwarded-prefix'] = mountPath;
      const outgoing = (target.protocol === 'https:' ? httpsRequest : httpRequest)(target, { method: 'GET', headers });
      const timer = setTimeout(() => outgoing.destroy(new LatchkeyError('upstream_timeout')), options.timeoutMs);
      timer.unref();
      socket.once('close', () => {
        clearTimeout(timer);
        outgoing.destroy();
      });
      outgoing.on('error', (error) => {
        clearTimeout(timer);
        refuse(req, socket, error instanceof LatchkeyError ? error : new LatchkeyError('upstream_unavailable', undefined, { cause: error }));
      });
      // The upstream refused the upgrade: its answer passes through (a 401 or 403 signs nobody out).
      outgoing.on('response', (res) => {
        clearTimeout(timer);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_REFUSAL_BYTES) chunks.push(chunk);
        });
        res.on('end', () => {
          ctx.metrics.proxyRequests.inc({ outcome: 'forwarded' });
          const passed = downstreamResponseHeaders(res.headers);
          delete passed[SESSION_ENDED_HEADER.toLowerCase()];
          delete passed['content-length'];
          const lines = Object.entries(passed).flatMap(([name, value]) => (Array.isArray(value) ? value : [value]).map((v): [string, string] => [name, v]));
          writeAnswer(socket, res.statusCode ?? 502, lines, Buffer.concat(chunks));
        });
        res.on('error', () => socket.destroy());
      });
      outgoing.on('upgrade', (res, upstream, upstreamHead) => {
        clearTimeout(timer);
        if (socket.destroyed) return void upstream.destroy();
        ctx.metrics.proxyRequests.inc({ outcome: 'forwarded' });
        // The 101 as the upstream sent it (it completes the handshake: Sec-WebSocket-Accept, the protocol and
        // extensions chosen), minus its cookies and any forged session marker.
        const lines = ['HTTP/1.1 101 Switching Protocols'];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = res.rawHeaders[i]!;
          if (['set-cookie', 'set-cookie2', SESSION_ENDED_HEADER.toLowerCase()].includes(name.toLowerCase())) continue;
          lines.push(`${name}: ${res.rawHeaders[i + 1]!}`);
        }
        socket.write(`${lines.join('\r\n')}\r\n\r\n`);
        open(socket, upstream, upstreamHead, head, session);
      });
      outgoing.end();
    })();
  };
}

/**
 * `bff.upgrades({ '/api/ticks': ticksProxy, ... })`: one listener for the server's `upgrade` event that hands each
 * upgrade to the proxy mounted at the longest matching path. Anything else goes to `otherwise` (another WebSocket
 * server of the application), or is answered 404 and closed.
 */
export function createUpgradeDispatcher(
  mounts: Readonly<Record<string, { upgrade: UpgradeHandler }>>,
  otherwise?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const entries = Object.entries(mounts).sort(([a], [b]) => b.length - a.length);
  return (req, socket, head) => {
    const url = req.url ?? '/';
    const found = entries.find(([mount]) => urlBelow(url, mount) !== undefined);
    if (found) return found[1].upgrade(req, socket, head, found[0]);
    if (otherwise) return otherwise(req, socket, head);
    socket.on('error', () => socket.destroy());
    writeAnswer(socket, 404, [['Content-Type', 'application/json; charset=utf-8']], Buffer.from(JSON.stringify({ error: 'not_found', message: 'Not found.' })));
  };
}
