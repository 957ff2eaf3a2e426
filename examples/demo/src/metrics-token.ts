import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { LatchkeyError } from '@latchkey/bff';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** `Bearer <token>`, the scheme in any case (RFC 7235 §2.1). */
const BEARER = /^bearer +(\S+)$/i;

/**
 * /metrics behind a bearer token (it shows session counts, error rates and process details); null only for the
 * explicit LATCHKEY_DANGEROUSLY_OPEN_METRICS. Both sides are hashed first, so the comparison takes the same time
 * whatever the length or content of the guess.
 */
export function requireMetricsToken(token: string | null): RequestHandler {
  if (token === null) return (_req, _res, next) => next();
  const expected = digest(token);
  return (req, _res, next) => {
    const presented = BEARER.exec(req.get('authorization') ?? '')?.[1];
    if (presented !== undefined && timingSafeEqual(digest(presented), expected)) return next();
    next(new LatchkeyError('invalid_token', 'The metrics token is missing or wrong.', { headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' } }));
  };
}
