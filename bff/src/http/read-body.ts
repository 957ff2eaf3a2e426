import type { Request, RequestHandler } from 'express';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/** A request body as the body parsers read it: a Node stream carrying the request's headers (Express's request, or a Fetch body). */
export type BodySource = Readable & { headers: IncomingHttpHeaders };

/** Whether the headers announce a body at all. */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0');
}

/**
 * Runs a body-parser middleware on `source`, whichever server carried the request: body-parser reads the stream and
 * leaves the result on it, touching nothing of the response. Rejects with body-parser's own error.
 */
export function readBody(parse: RequestHandler, source: BodySource): Promise<unknown> {
  const carrier = source as unknown as Request;
  return new Promise((resolve, reject) => {
    void parse(carrier, undefined as never, (error?: unknown) => (error === undefined ? resolve(carrier.body) : reject(error)));
  });
}
