import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * What the BFF's routes read of a request, whichever server carried it (Express through `bff.router`, a Fetch
 * server through `bff.fetch`). Express's own request has the same `method`, `path`, `protocol`, `ip` and `get`, so
 * the checks written against `RequestView` (Origin, CSRF) take either.
 */
export interface RequestView {
  /** Upper case, as sent. */
  readonly method: string;
  /** The path under the BFF's mount point (`/login`), without the query. */
  readonly path: string;
  /** Where the BFF is mounted (`/auth`): Express's `req.baseUrl`, or `bff.fetch`'s mount. */
  readonly baseUrl: string;
  /** `http` or `https` as the server sees the request (Express honours `trust proxy`; a Fetch server, the request URL). */
  readonly protocol: string;
  /** The client address; undefined when the server does not say. */
  readonly ip: string | undefined;
  /** A request header, case-insensitive. */
  get(name: string): string | undefined;
}

/** A request on its way through the framework-neutral routes. */
export interface AuthRequest extends RequestView {
  /** The body as a Node stream with the request's headers: what the body parser reads (once), under its size cap. */
  readonly bodySource: Readable & { headers: IncomingHttpHeaders };
  /** The parsed body; `{}` until the body parser ran, and for a request without a body. */
  body: unknown;
  /** Path parameters of the matched route (`:id`), URL-decoded. */
  params: Readonly<Record<string, string>>;
  /** The server's own request object (Express's request, or the Fetch `Request`), as the application's callbacks get it. */
  readonly native: unknown;
}

/** What a route answers, whichever server writes it. */
export interface AuthResult {
  status: number;
  headers: ReadonlyArray<readonly [string, string]>;
  /** `Set-Cookie` lines, in order. */
  cookies: readonly string[];
  /** A JSON body, or undefined for none. */
  body: unknown;
}

/**
 * The answer being built: headers and cookies a route sets stay when it then throws (a refresh that clears the
 * cookie and answers 401), and the error writer adds its status, headers and body to them.
 */
export class Reply {
  private readonly headerMap = new Map<string, readonly [string, string]>();
  private readonly cookieLines: string[] = [];

  /** Sets (replaces) a header. */
  header(name: string, value: string): this {
    this.headerMap.set(name.toLowerCase(), [name, value]);
    return this;
  }

  setCookie(...lines: readonly string[]): this {
    this.cookieLines.push(...lines);
    return this;
  }

  /** The finished answer: a JSON body, or none when `body` is undefined. */
  send(status: number, body?: unknown): AuthResult {
    return { status, headers: [...this.headerMap.values()], cookies: [...this.cookieLines], body };
  }
}

/** A route: one request in, one answer out (or a thrown error, which the error writer answers). */
export type AuthRoute = (req: AuthRequest, reply: Reply) => Promise<AuthResult>;
