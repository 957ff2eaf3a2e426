import cors from 'cors';
import type { RequestHandler } from 'express';
import { CSRF_HEADER } from '@latchkey/shared';

/**
 * How long a browser may reuse a preflight answer, seconds. Bounded so that removing an origin from allowedOrigins
 * takes effect within minutes (Chromium caps it at 7200 anyway, Firefox at 86400).
 */
export const CORS_MAX_AGE_SECONDS = 600;

/**
 * CORS for pages on another origin than the BFF (app.example.com calling auth.example.com), answered for exactly the
 * configured allowedOrigins: the request's Origin is echoed only when it is listed (never `*`, never an unlisted
 * one), with credentials (the session cookie) and a preflight allowing `X-CSRF` and `Content-Type` (no route a page
 * calls reads `Authorization`; /introspect and /revoke, which do, refuse browsers). An unlisted Origin gets no CORS header and goes on to the CSRF check, which refuses it
 * with 403 `csrf_rejected` naming the expected origins. The `cors` package does the header work; the origin
 * function is the whole policy.
 */
export function createCors(allowedOrigins: readonly string[]): RequestHandler {
  const listed = new Set(allowedOrigins);
  const policy = cors({
    origin: (origin, callback) => callback(null, origin !== undefined && listed.has(origin) ? origin : false),
    credentials: true,
    methods: ['GET', 'POST', 'DELETE'],
    allowedHeaders: [CSRF_HEADER, 'Content-Type'],
    // Date: the client reads the BFF's clock from it (token expiries are in that clock). Retry-After: 429 and 503.
    exposedHeaders: ['Date', 'Retry-After'],
    maxAge: CORS_MAX_AGE_SECONDS,
  });
  return (req, res, next) => {
    // On every answer, listed Origin or not: a shared cache must never hand one origin's answer to another
    // (the cors package adds Vary only when it echoes an origin).
    res.vary('Origin');
    policy(req, res, next);
  };
}
