import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { CSRF_HEADER, CSRF_HEADER_VALUE } from '@latchkey/shared';
import { LatchkeyError } from '../errors/latchkey-error.js';

/** The request's own origin as the server sees it (honours Express's `trust proxy`). */
function ownOrigin(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? ''}`;
}

/** An `Origin` header, when the browser sends one, must be on the allow-list (default: the request's own origin). */
export function isAllowedOrigin(req: Request, allowedOrigins: readonly string[] | undefined): boolean {
  const origin = req.get('origin');
  return origin === undefined || (allowedOrigins ?? [ownOrigin(req)]).includes(origin);
}

/**
 * CSRF defence for cookie-authenticated routes: a custom header (a cross-site form or simple request cannot send
 * one without a CORS preflight) plus an Origin allow-list when the browser sends Origin. SameSite=Strict is the third layer.
 */
export function requireCsrf(allowedOrigins: readonly string[] | undefined, logger: Logger): RequestHandler {
  // Logged as a security event: the client IP, the route and which check failed (the Origin, never cookies).
  const reject = (req: Request, reason: 'missing_header' | 'origin', message: string) => {
    logger.warn({ event: 'csrf_rejected', reason, ip: req.ip, method: req.method, path: req.path, origin: req.get('origin')?.slice(0, 200) }, 'CSRF check failed');
    return new LatchkeyError('csrf_rejected', message);
  };
  return (req, _res, next) => {
    if (req.get(CSRF_HEADER) !== CSRF_HEADER_VALUE) {
      return next(reject(req, 'missing_header', `The ${CSRF_HEADER}: ${CSRF_HEADER_VALUE} header is required.`));
    }
    if (!isAllowedOrigin(req, allowedOrigins)) return next(reject(req, 'origin', 'This origin may not call the BFF.'));
    next();
  };
}
