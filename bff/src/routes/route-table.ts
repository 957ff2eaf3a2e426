import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRequest, AuthRoute } from '../http/exchange.js';

/** One route of the `/auth` table: `ALL` matches any method (the OAuth endpoints' 404 for anything but POST). */
export interface RouteEntry {
  method: 'GET' | 'POST' | 'DELETE' | 'ALL';
  /** `/sessions/:id`: literal segments (kept in lower case) match case-insensitively (as Express does), `:name` one segment. */
  segments: readonly string[];
  route: AuthRoute;
}

const isParameter = (segment: string) => segment.startsWith(':');

export const entry = (method: RouteEntry['method'], path: string, route: AuthRoute): RouteEntry => ({
  method,
  segments: path
    .split('/')
    .slice(1)
    .map((segment) => (isParameter(segment) ? segment : segment.toLowerCase())),
  route,
});

/** A request path's segments, as `matchPath` compares them (one optional trailing slash dropped). */
export function pathSegments(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.split('/').slice(1);
}

/** Express's matching: case-insensitive literals, one optional trailing slash, parameters URL-decoded (400 when they cannot be). */
export function matchPath(segments: readonly string[], parts: readonly string[]): Record<string, string> | null {
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if (isParameter(segment)) {
      if (part === '') return null;
      try {
        params[segment.slice(1)] = decodeURIComponent(part);
      } catch {
        throw new LatchkeyError('invalid_request');
      }
    } else if (segment !== part.toLowerCase()) {
      return null;
    }
  }
  return params;
}

/** HEAD is answered as GET (without the body), as Express does. */
const methodOf = (req: AuthRequest) => (req.method === 'HEAD' ? 'GET' : req.method);

/** The first entry matching the request's method and path, its parameters set on the request; undefined for none. */
export function findRoute(table: readonly RouteEntry[], req: AuthRequest): AuthRoute | undefined {
  const method = methodOf(req);
  // Split once per lookup, not once per entry: every request is looked up in the whole early table first.
  let parts: string[] | undefined;
  for (const entry of table) {
    if (entry.method !== 'ALL' && entry.method !== method) continue;
    const params = matchPath(entry.segments, (parts ??= pathSegments(req.path)));
    if (params === null) continue;
    req.params = params;
    return entry.route;
  }
  return undefined;
}
