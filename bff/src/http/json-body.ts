import bodyParser from 'body-parser';
import type { RequestHandler } from 'express';
import { parse as parseContentType } from 'content-type';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { hasBody, readBody, type BodySource } from './read-body.js';

/** body-parser's error types, converted at the edge to the wire codes. */
function convertBodyParserError(error: unknown): LatchkeyError {
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.too.large') return new LatchkeyError('payload_too_large', undefined, { cause: error });
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new LatchkeyError('unsupported_media_type', undefined, { cause: error });
  }
  return new LatchkeyError('invalid_request', 'The request body is not valid JSON.', { cause: error });
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
 * Reads a JSON body from `source` (a Node stream carrying the request's headers: Express's request itself, or a
 * Fetch request's body stream), capped at `limit` before parsing, with body-parser doing the reading, decoding and
 * parsing whichever server carried the request. A request without a body gets `{}`; a body of any other type,
 * charset or content coding is refused with 415 (a form post is the classic CSRF vehicle).
 */
export function createJsonBodyParser(limit: string): (source: BodySource) => Promise<unknown> {
  const parse = bodyParser.json({ limit, strict: true, type: () => true });
  return (source) => {
    if (!hasBody(source.headers)) return Promise.resolve({});
    if (!isUtf8Json(source.headers['content-type']) || !hasKnownCoding(source.headers['content-encoding'])) {
      return Promise.reject(new LatchkeyError('unsupported_media_type'));
    }
    return readBody(parse, source).catch((error: unknown) => Promise.reject(convertBodyParserError(error)));
  };
}

/** The parser as Express middleware (the admin router): `req.body`, or the error for the router's error handler. */
export function jsonBody(limit: string): RequestHandler {
  const parse = createJsonBodyParser(limit);
  return (req, _res, next) => {
    parse(req).then((body) => {
      req.body = body;
      next();
    }, next);
  };
}
