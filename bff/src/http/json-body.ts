import express, { type RequestHandler } from 'express';
import { parse as parseContentType } from 'content-type';
import { LatchkeyError } from '../errors/latchkey-error.js';

/** body-parser's error types, converted at the edge to the wire codes. */
function convertBodyParserError(error: unknown): LatchkeyError {
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.too.large') return new LatchkeyError('payload_too_large', undefined, { cause: error });
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new LatchkeyError('unsupported_media_type', undefined, { cause: error });
  }
  return new LatchkeyError('invalid_request', 'The request body is not valid JSON.', { cause: error });
}

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/**
 * `application/json`, in UTF-8 or without a charset. JSON is UTF-8 (RFC 8259 §8.1); body-parser would also decode
 * any `utf-*` charset, UTF-7 included, whose alternative spellings of the same characters are a classic filter
 * bypass. The header is parsed by `content-type`, the parser body-parser itself uses, so quoted strings (a
 * `charset=` inside another parameter's value) and repeated parameters are read exactly as the decoder will read them.
 */
function isUtf8Json(header: string | undefined): boolean {
  if (header === undefined) return false;
  const { type, parameters } = parseContentType(header);
  const charset = parameters['charset'];
  return type.toLowerCase() === 'application/json' && (charset === undefined || charset.toLowerCase() === 'utf-8');
}

/**
 * The content codings a JSON body may come in, whatever the Node version: body-parser decodes whatever the runtime's
 * zlib offers (zstd from Node 22.15/23.8 on), so without this list the same request would be 415 on one Node and
 * parsed on another. The inflated size is capped like a plain body.
 */
const CONTENT_CODINGS = new Set(['identity', 'gzip', 'deflate', 'br']);

function hasKnownCoding(header: string | undefined): boolean {
  return header === undefined || CONTENT_CODINGS.has(header.trim().toLowerCase());
}

/**
 * JSON bodies only, capped at `limit` before parsing. A request without a body gets `{}`; a body of any other
 * type or charset is refused with 415 (a form post is the classic CSRF vehicle).
 */
export function jsonBody(limit: string): RequestHandler {
  const parse = express.json({ limit, strict: true, type: () => true });
  return (req, res, next) => {
    if (!hasBody(req.headers)) {
      req.body = {};
      return next();
    }
    if (!isUtf8Json(req.headers['content-type']) || !hasKnownCoding(req.headers['content-encoding'])) return next(new LatchkeyError('unsupported_media_type'));
    parse(req, res, (error?: unknown) => next(error === undefined ? undefined : convertBodyParserError(error)));
  };
}
