import type { Logger } from 'pino';
import { CSRF_HEADER, CSRF_HEADER_VALUE } from '@latchkey/shared';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { stripControls } from '../session/display-text.js';
import type { RequestView } from './exchange.js';

/** The request's own origin as the server sees it (honours Express's `trust proxy`: see docs/deployment.md). */
function ownOrigin(req: RequestView): string {
  return `${req.protocol}://${req.get('host') ?? ''}`;
}

/** The origins a request may come from: the allow-list, or (unset) the request's own origin. */
function expectedOrigins(req: RequestView, allowedOrigins: readonly string[] | undefined): readonly string[] {
  return allowedOrigins ?? [ownOrigin(req)];
}

/** An `Origin` header, when the browser sends one, must be on the allow-list (default: the request's own origin). */
export function isAllowedOrigin(req: RequestView, allowedOrigins: readonly string[] | undefined): boolean {
  const origin = req.get('origin');
  return origin === undefined || expectedOrigins(req, allowedOrigins).includes(origin);
}

/**
 * Why the request's Origin is refused, naming what was expected (the operator's first question behind a proxy or on
 * a new hostname), or undefined when it is allowed. Origins are public: saying which are allowed reveals nothing.
 */
export function originRefusal(req: RequestView, allowedOrigins: readonly string[] | undefined): string | undefined {
  if (isAllowedOrigin(req, allowedOrigins)) return undefined;
  // Echoed in a message a page may show: bounded, and without control or invisible characters.
  const origin = stripControls(req.get('origin') ?? '').slice(0, 200);
  const expected = expectedOrigins(req, allowedOrigins).join(', ');
  const hint = allowedOrigins ? '' : " (this BFF's own origin as the request shows it; set origins.allowed to allow others)";
  return `Origin ${origin} is not allowed; expected one of: ${expected}${hint}.`;
}

/** Logged as a security event: the client IP, the route and which check failed (the Origin, never cookies). */
export function logCsrfRejection(logger: Logger, req: RequestView, reason: 'missing_header' | 'origin'): void {
  logger.warn(
    { event: 'csrf_rejected', reason, ip: req.ip, method: req.method, path: req.path, origin: req.get('origin')?.slice(0, 200) },
    'CSRF check failed',
  );
}

/**
 * CSRF defence for cookie-authenticated routes: an Origin allow-list when the browser sends Origin, plus a custom
 * header (a cross-site form or simple request cannot send one without a CORS preflight). SameSite=Strict is the
 * third layer. The Origin is checked first, so a refused page learns which origins were expected.
 */
export function checkCsrf(req: RequestView, allowedOrigins: readonly string[] | undefined, logger: Logger): void {
  const reject = (reason: 'missing_header' | 'origin', message: string) => {
    logCsrfRejection(logger, req, reason);
    return new LatchkeyError('csrf_rejected', message);
  };
  const refusal = originRefusal(req, allowedOrigins);
  if (refusal) throw reject('origin', refusal);
  if (req.get(CSRF_HEADER) !== CSRF_HEADER_VALUE) {
    // A preflight from a listed origin reaches this only when CORS is off (with it on, the CORS check answers).
    const preflight = req.method === 'OPTIONS' && req.get('origin') !== undefined;
    const message = preflight
      ? `A CORS preflight from ${stripControls(req.get('origin')!).slice(0, 200)}: pages on another origin need the BFF's origins.cors option.`
      : `The ${CSRF_HEADER}: ${CSRF_HEADER_VALUE} header is missing.`;
    throw reject('missing_header', message);
  }
}
