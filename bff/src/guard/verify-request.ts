import type { Guard, GuardRoute, RequireAuthOptions } from './guard.js';
import type { AuthResult } from './require-auth.js';

/**
 * What `bff.verify` reads the `Authorization` header from: a Fetch `Request`, a `Headers` (or anything with a
 * `get(name)`, as Next.js's `headers()`), or a plain headers object (Node's `req.headers`, names in lower case).
 */
export type VerifiableRequest = Request | RequestLike | HeaderGetter | Readonly<Record<string, string | readonly string[] | undefined>>;

/** A framework's own Request class: a URL and Fetch-style headers. */
export interface RequestLike {
  readonly url: string;
  readonly headers: HeaderGetter;
}

/** Headers read by name (Fetch's `Headers`, Next.js's `headers()`). */
export interface HeaderGetter {
  get(name: string): string | null | undefined;
}

/** `bff.verify`: the guard's decision for one request, whichever server carries it. */
export type VerifyRequest = (request: VerifiableRequest, route?: GuardRoute | RequireAuthOptions) => Promise<AuthResult>;

// By shape, not instanceof: a framework may bring its own Request class (or another realm's).
const isRequest = (request: VerifiableRequest): request is RequestLike =>
  typeof (request as RequestLike).url === 'string' && typeof (request as RequestLike).headers?.get === 'function';

function authorizationOf(request: VerifiableRequest): string | undefined {
  if (isRequest(request)) return request.headers.get('authorization') ?? undefined;
  if (typeof (request as HeaderGetter).get === 'function') return (request as HeaderGetter).get('authorization') ?? undefined;
  const value = (request as Readonly<Record<string, string | readonly string[] | undefined>>)['authorization'];
  // Several Authorization headers are no single credential: refused as a missing one would be.
  return typeof value === 'string' ? value : undefined;
}

function pathOf(url: string): string | undefined {
  try {
    return new URL(url).pathname;
  } catch {
    return undefined; // a relative URL (some frameworks' own Request classes): logged without a path
  }
}

/**
 * The guard's framework-neutral entry over `guard.authorize`: the verified, unrevoked claims, or the LatchkeyError to
 * answer with (401, 403, 503 per the fail policy, 500). Never rejects; the request's path, when it has one, names it
 * in the guard's logs.
 */
export function createVerifyRequest(guard: Guard): VerifyRequest {
  return (request, route) => {
    return guard.authorize(authorizationOf(request), route, isRequest(request) ? { path: pathOf(request.url) } : {});
  };
}
