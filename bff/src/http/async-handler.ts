import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * An Express handler as both Express 4 and 5 run it: a rejected promise goes to `next`, as Express 5 does by itself
 * (Express 4 ignores the promise: the error goes unhandled and the request hangs). Every async handler and
 * middleware the BFF mounts goes through this.
 */
export function catchRejection(handler: (req: Request, res: Response, next: NextFunction) => unknown): RequestHandler {
  return (req, res, next) => {
    const result = handler(req, res, next);
    if (result instanceof Promise) result.catch(next);
  };
}
