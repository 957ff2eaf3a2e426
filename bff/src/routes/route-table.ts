import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRequest, AuthRoute } from '../http/exchange.js';

/** One route of the `/auth` table: `ALL` matches any method (the OAuth endpoints' 404 for anything but POST). */
export interface RouteEntry {
  method: 'GET' | 'POST' | 'DELETE' | 'ALL';
  /** `/sessions/:id`: literal segments match case-insensitively (as Express does), `:name` one segment. */
  segments: readonly string[];
  route: AuthRoute;
}

export const entry = (method: RouteEntry['method'], path: string, route: AuthRoute): RouteEntry => ({ method, segments: path.split('/').slice(1), route });

/** Express's matching: case-insensitive literals, one optional trailing slash, parameters URL-decoded (400 when they cannot be). */
export function matchPath(segments: readonly string[], path: string): Record<string, string> | null {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const parts = trimmed.split('/').slice(1);
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (const [i, segment] of segments.entries()) {
    const part = parts[i]!;
    if (segment.startsWith(':')) {
      if (part === '') return null;
      try {
        params[segment.slice(1)] = decodeURIComponent(part);
      } catch {
        throw new LatchkeyError('invalid_request');
      }
    } else if (segment.toLowerCase() !== part.toLowerCase()) {
      return null;
    }
  }
  return params;
}

/** HEAD is answered as GET (without the body), as Express does. */
const methodOf = (req: AuthRequest) => (req.method === 'HEAD' ? 'GET' : req.method);

/** The first entry matching the request's method and path, its parameters set on the request; undefined for none. */
export function findRoute(table: readonly RouteEntry[], req: AuthRequest): AuthRoute | undefined {
  for (const { method, segments, route } of table) {
    if (method !== 'ALL' && method !== methodOf(req)) continue;
    const params = matchPath(segments, req.path);
    if (params === null) continue;
    req.params = params;
    return route;
  }
  return undefined;
}
