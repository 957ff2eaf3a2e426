import type { RequestHandler } from 'express';

/** Every BFF answer is per-user and may carry a token or a cookie: no cache may keep it. */
export const NO_STORE_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['Cache-Control', 'no-store'],
  ['Pragma', 'no-cache'],
];

export const noStore: RequestHandler = (_req, res, next) => {
  for (const [name, value] of NO_STORE_HEADERS) res.set(name, value);
  next();
};
