import type { Request } from 'express';
import { LatchkeyError } from '../errors/latchkey-error.js';

const MAX_RETURN_TO = 2048;

/**
 * Where the browser goes after the callback: a path on this site, or an absolute URL on one of the allowed origins
 * (default: the BFF's own). Anything else (another host, `//host`, `/\host`, `javascript:`) is refused before the
 * login starts, so the callback can never become an open redirect. Default: `/`.
 */
export function resolveReturnTo(req: Request, value: unknown, allowedOrigins: readonly string[] | undefined): string {
  if (value === undefined || value === '') return '/';
  const refuse = () => new LatchkeyError('invalid_request', 'returnTo must be a path or URL on this site.');
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  if (typeof value !== 'string' || value.length > MAX_RETURN_TO || /[\u0000-\u001f\\]/.test(value)) throw refuse();
  const own = `${req.protocol}://${req.get('host') ?? ''}`;
  let url: URL;
  try {
    url = new URL(value, own);
  } catch {
    throw refuse();
  }
  const allowed = allowedOrigins ?? [own];
  if (!allowed.includes(url.origin) || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw refuse();
  // A relative value stays relative (same origin by construction); an absolute one is kept as the allowed URL.
  return value.startsWith('/') && !value.startsWith('//') ? url.pathname + url.search + url.hash : url.href;
}
