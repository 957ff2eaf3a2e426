import bodyParser from 'body-parser';
import { parse as parseContentType } from 'content-type';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { hasBody, readBody, type BodySource } from './read-body.js';

/** Parameters a form body may carry: enough for token, token_type_hint, client_id and client_secret, and a few more. */
const MAX_PARAMETERS = 16;

/** The parsed body of an OAuth endpoint: each parameter once, as a string. */
export type FormParameters = Readonly<Record<string, string>>;

const oauthError = (code: 'invalid_request' | 'unsupported_media_type' | 'payload_too_large', message?: string, cause?: unknown) =>
  new LatchkeyError(code, message, { oauthBody: true, ...(cause === undefined ? {} : { cause }) });

/** body-parser's errors, converted at the edge to the wire codes (OAuth-style bodies). */
function convertBodyParserError(error: unknown): LatchkeyError {
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.too.large' || type === 'parameters.too.many') return oauthError('payload_too_large', undefined, error);
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return oauthError('unsupported_media_type', 'Request bodies must be application/x-www-form-urlencoded (UTF-8).', error);
  }
  return oauthError('invalid_request', 'The request body is not a valid form.', error);
}

/** `application/x-www-form-urlencoded`, in UTF-8 or without a charset; anything unparsable is not. */
function isUtf8Form(header: string | undefined): boolean {
  if (header === undefined) return false;
  try {
    const { type, parameters } = parseContentType(header);
    const charset = parameters['charset'];
    return type.toLowerCase() === 'application/x-www-form-urlencoded' && (charset === undefined || charset.toLowerCase() === 'utf-8');
  } catch {
    return false;
  }
}

/**
 * The form body of the OAuth endpoints (RFC 7662 §2.1, RFC 7009 §2.1), capped at `limitBytes` before parsing.
 * The rest of the BFF takes JSON only; this parser reads those two routes' bodies alone. body-parser does the
 * decoding (no compressed bodies: the cap is on what arrives); this wrapper adds what OAuth asks beyond it: the exact
 * media type, and each parameter at most once (RFC 6749 §3.2), so the result is a FormParameters.
 */
export function createFormBodyParser(limitBytes: number): (source: BodySource) => Promise<FormParameters> {
  const parse = bodyParser.urlencoded({ extended: false, limit: limitBytes, parameterLimit: MAX_PARAMETERS, inflate: false, type: () => true });
  return async (source) => {
    if (!hasBody(source.headers)) return {};
    if (!isUtf8Form(source.headers['content-type']))
      throw oauthError('unsupported_media_type', 'Request bodies must be application/x-www-form-urlencoded (UTF-8).');
    const body = (await readBody(parse, source).catch((error: unknown) => Promise.reject(convertBodyParserError(error)))) as Record<string, unknown>;
    const repeated = Object.keys(body).find((name) => typeof body[name] !== 'string');
    if (repeated !== undefined) throw oauthError('invalid_request', 'A parameter appears more than once.');
    return body as FormParameters;
  };
}

/**
 * A plain form body (the back-channel logout's `logout_token`), capped at `limit`: the parameters as body-parser reads
 * them, or undefined for a body of another type (left unread).
 */
export function createPlainFormParser(limit: string): (source: BodySource) => Promise<Record<string, unknown> | undefined> {
  const parse = bodyParser.urlencoded({ extended: false, limit, type: 'application/x-www-form-urlencoded' });
  return (source) => readBody(parse, source) as Promise<Record<string, unknown> | undefined>;
}
