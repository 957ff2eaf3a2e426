import type { IncomingHttpHeaders } from 'node:http';

/** Anything with a case-insensitive header getter: a Fetch `Headers` (Next.js `await headers()`), an Express request. */
interface HeaderGetter {
  get(name: string): string | null | undefined;
}

/**
 * Where a server-rendering call finds the `Cookie` header: an Express (or plain Node) request, a Fetch `Request`, a
 * Fetch `Headers` (Next.js `await headers()`), or the header's value itself. Null or undefined: no cookie.
 */
export type CookieSource = string | Request | Headers | HeaderGetter | { readonly headers: IncomingHttpHeaders | Headers } | null | undefined;

/** The `Cookie` header of any CookieSource (Node joins repeated Cookie headers with `; ` already). */
export function cookieHeaderOf(source: CookieSource): string | undefined {
  if (source === null || source === undefined) return undefined;
  if (typeof source === 'string') return source;
  // Headers-like first (Fetch Headers, Next.js's read-only headers, Express's req.get), then a request's headers.
  if (typeof (source as HeaderGetter).get === 'function') return (source as HeaderGetter).get('cookie') ?? undefined;
  const headers = (source as { headers?: unknown }).headers;
  if (typeof headers === 'object' && headers !== null) {
    if (typeof (headers as HeaderGetter).get === 'function') return (headers as HeaderGetter).get('cookie') ?? undefined;
    const value = (headers as IncomingHttpHeaders).cookie;
    return typeof value === 'string' ? value : undefined;
  }
  throw new TypeError('Latchkey: getSession takes a request (Express, Node or Fetch), a Headers object or a Cookie header string');
}
