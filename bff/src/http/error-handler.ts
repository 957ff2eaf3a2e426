import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { StoreUnavailableError } from '../store/types.js';

/**
 * Latchkey's own errors as the LatchkeyError the client will see, or undefined for anything else. A store outage
 * (raised by Latchkey's stores, wherever they are called from) is a 503.
 */
function ownError(error: unknown): LatchkeyError | undefined {
  if (error instanceof LatchkeyError) return error;
  if (error instanceof StoreUnavailableError) return new LatchkeyError('temporarily_unavailable', undefined, { cause: error });
  return undefined;
}

/**
 * Any thrown value, as the LatchkeyError the client will see. Used inside the BFF's router, where every error is
 * ours: body-parser's and Express's errors from the router's own middleware keep their 4xx meaning, anything else
 * is an opaque 500.
 */
export function toLatchkeyError(error: unknown): LatchkeyError {
  const own = ownError(error);
  if (own) return own;
  const status = (error as { status?: unknown; statusCode?: unknown }).status ?? (error as { statusCode?: unknown }).statusCode;
  if (status === 413) return new LatchkeyError('payload_too_large', undefined, { cause: error });
  if (typeof status === 'number' && status >= 400 && status < 500) return new LatchkeyError('invalid_request', undefined, { cause: error });
  return new LatchkeyError('internal_error', undefined, { cause: error });
}

/** Errors are logged by class, code and message only; causes from jose or Redis never hold tokens or cookies. */
function describe(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: String(error) };
  const cause = error.cause instanceof Error ? { name: error.cause.name, message: error.cause.message } : undefined;
  return { name: error.name, message: error.message, stack: error.stack, cause };
}

export interface ErrorHandlerOptions {
  /** Called for every 503 caused by the store (a metric). */
  onStoreUnavailable?: () => void;
  /**
   * `all` (the BFF's router): every error is Latchkey's to write. `own` (`bff.errorHandler`, mounted on the
   * application): only Latchkey's errors; the application's own errors (its 403s, 404s, 409s, its body parser's)
   * go on to the next error handler untouched.
   */
  handles: 'all' | 'own';
}

/** An error as Latchkey answers it: the code's status and headers, `{ error, message }` (and `error_description` for OAuth bodies). */
export interface ErrorAnswer {
  status: number;
  headers: Array<[string, string]>;
  body: Record<string, string>;
}

/**
 * The one place that turns an error into Latchkey's answer (and logs it: a store outage as a warning, anything else
 * at 500 as an error), for the Express error handlers and the framework-neutral routes alike. Undefined for an error
 * that is not Latchkey's to answer (`handles: 'own'`).
 */
export function answerError(logger: Logger, options: ErrorHandlerOptions, error: unknown, path: string): ErrorAnswer | undefined {
  const converted = options.handles === 'all' ? toLatchkeyError(error) : ownError(error);
  if (!converted) return undefined;
  if (converted.code === 'temporarily_unavailable') {
    options.onStoreUnavailable?.();
    logger.warn({ event: 'store_unavailable', path, err: describe(converted.cause) }, 'store unavailable');
  } else if (converted.status >= 500) {
    logger.error({ event: 'internal_error', path, err: describe(error) }, 'unhandled error');
  }
  const headers: Array<[string, string]> = [...Object.entries(converted.headers), ['Cache-Control', 'no-store']];
  const body: Record<string, string> = { error: converted.code, message: converted.publicMessage };
  if (converted.oauthBody) body.error_description = converted.publicMessage;
  return { status: converted.status, headers, body };
}

/** The Express error handler writing answerError's answer: `{ error, message }`, no stack, the code's status and headers. */
export function createErrorHandler(logger: Logger, options: ErrorHandlerOptions): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error);
    const answer = answerError(logger, options, error, req.path);
    if (!answer) return next(error);
    res.status(answer.status);
    for (const [name, value] of answer.headers) res.set(name, value);
    res.json(answer.body);
  };
}
