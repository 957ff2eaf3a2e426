import type { RequestHandler } from 'express';
import { CSRF_HEADER } from '@latchkey/shared';

/**
 * How long a browser may reuse a preflight answer, seconds. Bounded so that removing an origin from `origins.allowed`
 * takes effect within minutes (Chromium caps it at 7200 anyway, Firefox at 86400).
 */
export const CORS_MAX_AGE_SECONDS = 600;

const ALLOW_METHODS = 'GET,POST,DELETE';
/** No route a page calls reads `Authorization`; /introspect and /revoke, which do, refuse browsers. */
const ALLOW_HEADERS = `${CSRF_HEADER},Content-Type`;
/** Date: the client reads the BFF's clock from it (token expiries are in that clock). Retry-After: 429 and 503. */
const EXPOSE_HEADERS = 'Date,Retry-After';

/** The CORS answer to one request: headers to add, and whether it is a preflight answered here (204, nothing else runs). */
export interface CorsDecision {
  headers: Array<[string, string]>;
  preflight: boolean;
}

/**
 * CORS for pages on another origin than the BFF (app.example.com calling auth.example.com), answered for exactly the
 * configured `origins.allowed`: the request's Origin is echoed only when it is listed (never `*`, never an unlisted
 * one), with credentials (the session cookie) and a preflight allowing `X-CSRF` and `Content-Type`. An unlisted Origin
 * gets no CORS header and goes on to the CSRF check, which refuses it with 403 `csrf_rejected` naming the expected
 * origins. Every answer, listed Origin or not, says `Vary: Origin`: a shared cache must never hand one origin's answer
 * to another. The headers are those the `cors` package wrote when it did this job.
 */
export function createCorsPolicy(allowedOrigins: readonly string[]): (method: string, origin: string | undefined) => CorsDecision {
  const listed = new Set(allowedOrigins);
  return (method, origin) => {
    const headers: Array<[string, string]> = [['Vary', 'Origin']];
    if (origin === undefined || !listed.has(origin)) return { headers, preflight: false };
    headers.push(['Access-Control-Allow-Origin', origin], ['Access-Control-Allow-Credentials', 'true']);
    const preflight = method.toUpperCase() === 'OPTIONS';
    if (preflight) {
      headers.push(
        ['Access-Control-Allow-Methods', ALLOW_METHODS],
        ['Access-Control-Allow-Headers', ALLOW_HEADERS],
        ['Access-Control-Max-Age', String(CORS_MAX_AGE_SECONDS)],
      );
    }
    headers.push(['Access-Control-Expose-Headers', EXPOSE_HEADERS]);
    return { headers, preflight };
  };
}

/** The policy as Express middleware, first on `bff.router`, so every route's answers (errors included) carry it. */
export function createCors(allowedOrigins: readonly string[]): RequestHandler {
  const policy = createCorsPolicy(allowedOrigins);
  return (req, res, next) => {
    const { headers, preflight } = policy(req.method, req.get('origin'));
    for (const [name, value] of headers) {
      if (name === 'Vary') res.vary(value);
      else res.set(name, value);
    }
    if (!preflight) return next();
    // Safari needs Content-Length: 0 on a 204 preflight or it waits for a body.
    res.status(204).set('Content-Length', '0').end();
  };
}
