import { LatchkeyError } from '../errors/latchkey-error.js';

/**
 * The upstream URL for a proxied request: the target's origin and path prefix, then the request's path under the
 * proxy's mount point and its query, as sent. Never an open proxy: anything that could name another host or climb out
 * of the prefix is refused (404 `not_found`) before any URL is built, and the URL that is built is checked again:
 * - not starting with exactly one `/` (absolute URLs, `//host`, an empty path), a backslash or an empty segment (`//`);
 * - a dot segment (`.`, `..`), raw or percent-encoded in any case (`%2e%2E`, `.%2e`), or a segment that decodes to one;
 * - an encoded slash or backslash (`%2f`, `%5c`), an encoded `%` (`%25`, which a second decoding upstream could turn
 *   into any of the above), control characters and NUL, raw or encoded; raw spaces and non-ASCII (browsers encode them);
 * - a path that does not decode as UTF-8.
 */
export function upstreamUrl(target: URL, requestUrl: string): URL {
  const q = requestUrl.indexOf('?');
  const path = q === -1 ? requestUrl : requestUrl.slice(0, q);
  const query = q === -1 ? '' : requestUrl.slice(q);
  const refuse = (): never => {
    throw new LatchkeyError('not_found');
  };
  if (!path.startsWith('/') || path.startsWith('//') || path.includes('\\') || /[^\x21-\x7e]/.test(requestUrl)) refuse();
  if (/%(2f|5c|25|00|0[1-9a-f]|1[0-9a-f]|7f)/i.test(path)) refuse();
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return refuse();
  }
  const segments = decoded.split('/').slice(1);
  // `/` alone (the mount point itself) is the one empty segment allowed.
  for (const [i, segment] of segments.entries()) {
    if (segment === '.' || segment === '..') refuse();
    if (segment === '' && !(i === segments.length - 1)) refuse();
  }
  const prefix = target.pathname.endsWith('/') ? target.pathname.slice(0, -1) : target.pathname;
  const url = new URL(`${target.origin}${prefix}${path === '/' && prefix !== '' ? '' : path}${query}`);
  // Belt and braces: whatever the URL parser made of it is still under the target.
  if (url.origin !== target.origin || !(url.pathname === prefix || url.pathname.startsWith(`${prefix}/`) || prefix === '')) refuse();
  return url;
}
