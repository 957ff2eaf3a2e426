import type { Request, RequestHandler, Response } from 'express';
import type { AuthDispatcher } from '../routes/auth-routes.js';
import type { AuthRequest, AuthResult, StreamedBody } from '../http/exchange.js';
import { catchRejection } from '../http/async-handler.js';

/**
 * Express's request as the framework-neutral routes read it (Express's own `ip`, `protocol` and `trust proxy`).
 * `ip` and `protocol` are read on first use, once: Express works each out anew on every read (the `trust proxy` check
 * parses addresses), and most routes need only one of them, or none.
 */
export function fromExpress(req: Request): AuthRequest {
  let ip: { value: string | undefined } | undefined;
  let protocol: string | undefined;
  return {
    method: req.method,
    path: req.path,
    baseUrl: req.baseUrl,
    get protocol() {
      return (protocol ??= req.protocol);
    },
    get ip() {
      return (ip ??= { value: req.ip }).value;
    },
    get: (name) => req.get(name) as string | undefined,
    bodySource: req,
    body: {},
    params: {},
    search: searchOf(req.originalUrl),
    connectionClosed: () => req.socket.destroyed,
    native: req,
  };
}

const searchOf = (url: string) => {
  const at = url.indexOf('?');
  return at < 0 ? '' : url.slice(at);
};

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
