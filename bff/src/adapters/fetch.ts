import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { AuthDispatcher } from '../routes/auth-routes.js';
import type { CorsDecision } from '../http/cors.js';
import type { AuthRequest, AuthResult, StreamedBody } from '../http/exchange.js';

/** Where `bff.fetch` expects the BFF: the `/auth` routes (SPEC), whatever the host application's path layout. */
export const FETCH_MOUNT = '/auth';

/** What `bff.fetch` cannot read from a Fetch `Request` itself. */
export interface FetchRequestInfo {
  /**
   * The client's address, for the per-IP rate limits and the security log (a Fetch `Request` does not carry it: pass
   * what the server says, e.g. Deno's `info.remoteAddr.hostname`, Bun's `server.requestIP(req)`, or the address your
   * trusted proxy put in a header). Without it every caller shares one per-IP limit.
   */
  clientAddress?: string | undefined;
}

function headersOf(request: Request, url: URL): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  request.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  headers.host ??= url.host;
  if (request.body === null) {
    // No body, whatever the headers claim (a GET or HEAD Request never has one): nothing to read.
    delete headers['content-length'];
    delete headers['transfer-encoding'];
  } else if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
    // A streamed body without a length is still a body (Node's server would have said Transfer-Encoding: chunked).
    headers['transfer-encoding'] = 'chunked';
  }
  return headers;
}

/** A Fetch request as the framework-neutral routes read it; `under` is its path below FETCH_MOUNT, or null when it is not there. */
function fromFetch(request: Request, url: URL, info: FetchRequestInfo | undefined): { req: AuthRequest; outsideMount: boolean } {
  const headers = headersOf(request, url);
  const stream = request.body === null ? Readable.from([]) : Readable.fromWeb(request.body as unknown as NodeReadableStream<Uint8Array>);
  const pathname = url.pathname;
  const underMount = pathname.toLowerCase() === FETCH_MOUNT || pathname.toLowerCase().startsWith(`${FETCH_MOUNT}/`);
  const req: AuthRequest = {
    method: request.method.toUpperCase(),
    path: underMount ? pathname.slice(FETCH_MOUNT.length) || '/' : pathname,
    baseUrl: FETCH_MOUNT,
    protocol: url.protocol.slice(0, -1),
    ip: info?.clientAddress,
    get: (name) => {
      const value = headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    bodySource: Object.assign(stream, { headers }),
    body: {},
    params: {},
    search: url.search,
    connectionClosed: () => request.signal.aborted,
    native: request,
  };
  return { req, outsideMount: !underMount };
}

function toResponse(result: AuthResult, method: string, extraHeaders: ReadonlyArray<readonly [string, string]>, signal: AbortSignal): Response {
  const headers = new Headers();
  for (const [name, value] of extraHeaders) headers.append(name, value);
  for (const [name, value] of result.headers) headers.set(name, value);
  for (const line of result.cookies) headers.append('Set-Cookie', line);
  if (result.stream) {
    // HEAD: nobody will read the stream.
    if (method === 'HEAD') result.stream.clientGone();
    return new Response(method === 'HEAD' ? null : readableOf(result.stream, signal), { status: result.status, headers });
  }
  const hasBody = result.body !== undefined && method !== 'HEAD' && result.status !== 204;
  if (result.body !== undefined) headers.set('Content-Type', 'application/json; charset=utf-8');
  return new Response(hasBody ? JSON.stringify(result.body) : null, { status: result.status, headers });
}

/**
 * A streamed body as a Fetch `ReadableStream`. The client's leaving is reported by whichever the server does: cancel
 * the body (Node adapters, Deno, Bun) or abort the request's signal (Next.js, undici). Queued bytes are counted, so a
 * client that reads nothing is dropped as on Express.
 */
function readableOf(body: StreamedBody, signal: AbortSignal): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  signal.addEventListener('abort', () => body.clientGone(), { once: true });
  if (signal.aborted) body.clientGone();
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        body.attach({
          write: (text) => controller.enqueue(encoder.encode(text)),
          end: () => controller.close(),
          destroy: () => controller.error(new Error('event stream dropped')),
          get queuedBytes() {
            return Math.max(0, -(controller.desiredSize ?? 0));
          },
        });
      },
      cancel: () => body.clientGone(),
    },
    // Nothing is buffered ahead of the reader: every byte written and not read counts as queued.
    { highWaterMark: 0, size: (chunk) => chunk.byteLength },
  );
}

/**
 * `bff.fetch`: the `/auth` routes for Fetch-standard servers (Next.js route handlers, Hono, Deno, Bun), running the
 * same framework-neutral routes as `bff.router`: the same CORS policy, Origin and X-CSRF check, body caps, rate limits
 * and error answers.
 */
export function fetchAdapter(
  dispatch: AuthDispatcher,
  cors: ((method: string, origin: string | undefined) => CorsDecision) | undefined,
): (request: Request, info?: FetchRequestInfo) => Promise<Response> {
  return async (request, info) => {
    const url = new URL(request.url);
    const { req, outsideMount } = fromFetch(request, url, info);
    const decision = cors?.(req.method, req.get('origin'));
    if (decision?.preflight) return new Response(null, { status: 204, headers: [...decision.headers, ['Content-Length', '0']] });
    const result = await dispatch(req, { outsideMount });
    return toResponse(result, req.method, decision?.headers ?? [], request.signal);
  };
}
