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

/** The query string of a request, `?` included (`''` when there is none), as the client sent it. */
export type QueryString = string;

/** A request on its way through the framework-neutral routes. */
export interface AuthRequest extends RequestView {
  /** The body as a Node stream with the request's headers: what the body parser reads (once), under its size cap. */
  readonly bodySource: Readable & { headers: IncomingHttpHeaders };
  /** The parsed body; `{}` until the body parser ran, and for a request without a body. */
  body: unknown;
  /** Path parameters of the matched route (`:id`), URL-decoded. */
  params: Readonly<Record<string, string>>;
  /** The query string, `?` included, or `''`. */
  readonly search: QueryString;
  /** Whether the client's connection is already gone (it stopped waiting while the route worked). */
  connectionClosed(): boolean;
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
  /** A body written as it comes (server-sent events), instead of `body`. */
  stream?: StreamedBody;
}

/** Where a streamed body goes: the adapter's end of the connection (Express's response, a Fetch `ReadableStream`). */
export interface BodySink {
  write(text: string): void;
  end(): void;
  /** Drops the connection without ending the body properly. */
  destroy(): void;
  /** Bytes written but not yet taken by the client. */
  readonly queuedBytes: number;
}

/**
 * A body written over time (the `GET /events` stream). The route writes to it at once; what it wrote before the
 * adapter attached the connection waits here. The adapter reports the client leaving (`clientGone`): Express's
 * `close`, a Fetch body's `cancel` or the request's abort signal.
 */
export class StreamedBody {
  private sink: BodySink | undefined;
  private readonly pending: string[] = [];
  private ended = false;
  private gone = false;
  private readonly goneListeners = new Set<() => void>();

  /** The client left (or the body was ended or dropped): nothing more reaches it. */
  get closed(): boolean {
    return this.gone || this.ended;
  }

  get queuedBytes(): number {
    return this.sink ? this.sink.queuedBytes : this.pending.reduce((n, text) => n + Buffer.byteLength(text), 0);
  }

  write(text: string): void {
    if (this.closed) return;
    if (this.sink) this.sink.write(text);
    else this.pending.push(text);
  }

  end(): void {
    if (this.closed) return;
    this.ended = true;
    this.sink?.end();
  }

  destroy(): void {
    if (this.closed) return;
    this.gone = true;
    this.sink?.destroy();
  }

  /** Called once when the client leaves; at once when it already has. */
  onClientGone(listener: () => void): void {
    if (this.gone) listener();
    else this.goneListeners.add(listener);
  }

  /** The adapter's side: the connection is ready; what was written so far goes out now. */
  attach(sink: BodySink): void {
    this.sink = sink;
    if (this.gone) return sink.destroy();
    for (const text of this.pending.splice(0)) sink.write(text);
    if (this.ended) sink.end();
  }

  /** The adapter's side: the client's connection closed. */
  clientGone(): void {
    if (this.gone) return;
    this.gone = true;
    for (const listener of [...this.goneListeners]) listener();
    this.goneListeners.clear();
  }
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

  /** The finished answer with a streamed body. */
  stream(status: number, body: StreamedBody): AuthResult {
    return { ...this.send(status), stream: body };
  }

  /**
   * A 303 to `location` (no body: a browser follows it without showing one). Every location the routes send is a
   * WHATWG URL's serialization (or a path taken from one), already encoded.
   */
  redirect(location: string): AuthResult {
    return this.header('Location', location).send(303);
  }
}

/** A route: one request in, one answer out (or a thrown error, which the error writer answers). */
export type AuthRoute = (req: AuthRequest, reply: Reply) => Promise<AuthResult>;
