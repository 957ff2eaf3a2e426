import type { IncomingHttpHeaders } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy headers a client must not choose: never forwarded either way. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
  'http2-settings',
]);

/** What the browser sent that never goes upstream: its cookies, its own credentials, the CSRF marker, and forwarding headers it could forge. */
const REQUEST_ONLY = new Set([
  'cookie',
  'authorization',
  'x-csrf',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-prefix',
  'x-real-ip',
]);

/** What the upstream answered that never reaches the browser: its cookies (the BFF's origin would keep them). */
const RESPONSE_ONLY = new Set(['set-cookie', 'set-cookie2']);

const NONE: ReadonlySet<string> = new Set();

function namedByConnection(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): ReadonlySet<string> {
  const connection = headers.connection;
  // What nearly every request and answer carries: names only headers that are hop-by-hop anyway (no Set per call).
  if (connection === undefined || connection === 'keep-alive' || connection === 'close') return NONE;
  const value = Array.isArray(connection) ? connection.join(',') : (connection ?? '');
  return new Set(
    value
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  );
}

function filtered(headers: Record<string, string | string[] | undefined>, drop: Set<string>): Record<string, string | string[]> {
  const named = namedByConnection(headers);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    const lower = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(lower) || drop.has(lower) || named.has(lower)) continue;
    out[lower] = value;
  }
  return out;
}

/** The browser's request headers as they go upstream. */
export const upstreamRequestHeaders = (headers: IncomingHttpHeaders) => filtered(headers, REQUEST_ONLY);

/** The upstream's response headers as they reach the browser. */
export const downstreamResponseHeaders = (headers: Record<string, string | string[] | undefined>) => filtered(headers, RESPONSE_ONLY);
