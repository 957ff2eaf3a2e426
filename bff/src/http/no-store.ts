import type { RequestHandler } from 'express';

/** Every BFF answer is per-user and may carry a token or a cookie: no cache may keep it. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  res.set('Pragma', 'no-cache');
  next();
};
