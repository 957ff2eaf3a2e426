import type { RequestView } from '../http/exchange.js';
import { LatchkeyError } from '../errors/latchkey-error.js';

const MAX_RETURN_TO = 2048;

const refuse = () => new LatchkeyError('invalid_request', 'returnTo must be a path or URL on this site.');

/**
 * Where the browser goes after the callback: a path on this site, or an absolute URL on one of the allowed origins
 * (default: the BFF's own). Anything else (another host, `//host`, `/\host`, `javascript:`) is refused before the
 * login starts, so the callback can never become an open redirect. Default: `/`.
 */
export function resolveReturnTo(req: RequestView, value: unknown, allowedOrigins: readonly string[] | undefined): string {
  return checkReturnTo(value, `${req.protocol}://${req.get('host') ?? ''}`, allowedOrigins);
}

/**
 * The check itself, on the value the browser will be sent. A relative value is normalised (dot segments removed)
 * before it is returned, and normalising can turn a harmless-looking `/.//evil.example` into the network-path
 * reference `//evil.example`: so the check runs on the returned value, resolved as the browser will resolve the
 * callback's `Location`, not on the raw input.
 */
export function checkReturnTo(value: unknown, ownOrigin: string, allowedOrigins: readonly string[] | undefined): string {
  if (value === undefined || value === '') return '/';
  // eslint-disable-next-line no-control-regex -- control characters are what it refuses
  if (typeof value !== 'string' || value.length > MAX_RETURN_TO || /[\u0000-\u001f\u007f\\]/.test(value)) throw refuse();
  const allowed = allowedOrigins ?? [ownOrigin];
  const url = parse(value, ownOrigin);
  if (!allowed.includes(url.origin) || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw refuse();
  // A relative value stays relative; an absolute one is kept as the allowed URL.
  const result = value.startsWith('/') && !value.startsWith('//') ? url.pathname + url.search + url.hash : url.href;
  // The value sent must itself land where it was checked: never a network-path reference, whatever the base.
  if (result.startsWith('//') || result.startsWith('/\\') || parse(result, ownOrigin).href !== url.href) throw refuse();
  return result;
}

function parse(value: string, base: string): URL {
  try {
    return new URL(value, base);
  } catch {
    throw refuse();
  }
}
