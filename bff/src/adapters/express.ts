import type { Request, RequestHandler, Response } from 'express';
import type { AuthDispatcher } from '../routes/auth-routes.js';
import type { AuthRequest, AuthResult, StreamedBody } from '../http/exchange.js';
import { catchRejection } from '../http/async-handler.js';

const searchOf = (url: string) => {
  const at = url.indexOf('?');
  return at < 0 ? '' : url.slice(at);
};

/**
 * Express's request as the framework-neutral routes read it (Express's own `ip`, `protocol` and `trust proxy`).
 * `ip` and `protocol` are read on first use, once: Express works each out anew on every read (the `trust proxy` check
 * parses addresses), and most routes need only one of them, or none. A class, not an object literal with getters,
 * which V8 builds far more slowly (one per request).
 */
class ExpressRequest implements AuthRequest {
  readonly method: string;
  readonly path: string;
  readonly baseUrl: string;
  readonly search: string;
  body: unknown = {};
  params: Readonly<Record<string, string>> = {};
  private ipRead: { value: string | undefined } | undefined;
  private protocolRead: string | undefined;

  constructor(private readonly req: Request) {
    this.method = req.method;
    this.path = req.path;
    this.baseUrl = req.baseUrl;
    this.search = searchOf(req.originalUrl);
  }

  get protocol(): string {
    return (this.protocolRead ??= this.req.protocol);
  }

  get ip(): string | undefined {
    return (this.ipRead ??= { value: this.req.ip }).value;
  }

  get(name: string): string | undefined {
    return this.req.get(name) as string | undefined;
  }

  get bodySource(): Request {
    return this.req;
  }

  get native(): Request {
    return this.req;
  }

  connectionClosed(): boolean {
    return this.req.socket.destroyed;
  }
}

export function fromExpress(req: Request): AuthRequest {
  return new ExpressRequest(req);
}

/** Writes a framework-neutral answer on Express's response (JSON through `res.json`, as the routes always did). */
export function writeExpress(res: Response, result: AuthResult): void {
  res.status(result.status);
  for (const [name, value] of result.headers) res.set(name, value);
  // All lines in one append (after any the application set): Express copies the header's lines on every append.
  if (result.cookies.length > 0) res.append('Set-Cookie', [...result.cookies]);
  if (result.stream) writeStream(res, result.stream);
  else if (result.body === undefined) res.end();
  else res.json(result.body);
}

/** A streamed body on Express's response: headers out at once, each write as it comes, the client's leaving reported. */
function writeStream(res: Response, body: StreamedBody): void {
  const socket = res.req.socket;
  socket.setNoDelay(true);
  socket.setKeepAlive(true);
  res.flushHeaders();
  res.on('close', () => body.clientGone());
  // Gone already (between the route's check and now): 'close' has fired, so report it here.
  if (socket.destroyed) body.clientGone();
  body.attach({
    write: (text) => void res.write(text),
    end: () => void res.end(),
    destroy: () => void res.destroy(),
    get queuedBytes() {
      return res.writableLength;
    },
  });
}

/** The `/auth` routes on `bff.router`. */
export function expressAdapter(dispatch: AuthDispatcher): RequestHandler {
  return catchRejection(async (req, res) => {
    writeExpress(res, await dispatch(fromExpress(req), {}));
  });
}
