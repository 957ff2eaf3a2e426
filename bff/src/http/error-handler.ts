import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { StoreUnavailableError } from '../store/types.js';

/** Any thrown value, as the LatchkeyError the client will see. Unknown errors become an opaque 500. */
export function toLatchkeyError(error: unknown): LatchkeyError {
  if (error instanceof LatchkeyError) return error;
  if (error instanceof StoreUnavailableError) return new LatchkeyError('temporarily_unavailable', undefined, { cause: error });
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

/** The one place that writes error responses: `{ error, message }`, no stack, the code's status and headers. */
export function createErrorHandler(logger: Logger, onStoreUnavailable?: () => void): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) return next(error);
    const converted = toLatchkeyError(error);
    if (converted.code === 'temporarily_unavailable') {
      onStoreUnavailable?.();
      logger.warn({ event: 'store_unavailable', path: req.path, err: describe(converted.cause) }, 'store unavailable');
    } else if (converted.status >= 500) {
      logger.error({ event: 'internal_error', path: req.path, err: describe(error) }, 'unhandled error');
    }
    res.status(converted.status);
    for (const [name, value] of Object.entries(converted.headers)) res.set(name, value);
    res.set('Cache-Control', 'no-store');
    const body: Record<string, string> = { error: converted.code, message: converted.publicMessage };
    if (converted.oauthBody) body.error_description = converted.publicMessage;
    res.json(body);
  };
}
