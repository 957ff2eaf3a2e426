import type { IncomingHttpHeaders } from 'node:http';

/**
 * Where a server-rendering call finds the `Cookie` header: an Express (or plain Node) request, a Fetch `Request`, a
 * Fetch `Headers` (Next.js `await headers()`), or the header's value itself. Null or undefined: no cookie.
 */
export type CookieSource = string | Request | Headers | { readonly headers: IncomingHttpHeaders | Headers } | null | undefined;

/** The `Cookie` header of any CookieSource (Node joins repeated Cookie headers with `; ` already). */
export function cookieHeaderOf(source: CookieSource): string | undefined {
  if (source === null || source === undefined) return undefined;
  if (typeof source === 'string') return source;
  if (typeof Headers !== 'undefined' && source instanceof Headers) return source.get('cookie') ?? undefined;
  const headers = (source as { headers?: unknown }).headers;
  if (typeof Headers !== 'undefined' && headers instanceof Headers) return headers.get('cookie') ?? undefined;
  if (typeof headers === 'object' && headers !== null) {
    const value = (headers as IncomingHttpHeaders).cookie;
    return typeof value === 'string' ? value : undefined;
  }
  throw new TypeError('Latchkey: getSession takes a request (Express, Node or Fetch), a Headers object or a Cookie header string');
}
