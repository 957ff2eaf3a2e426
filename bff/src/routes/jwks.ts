import type { RequestHandler } from 'express';
import type { JwksResponse } from '@latchkey/shared';
import type { BffContext } from '../context.js';

/** GET /jwks.json: public members of every published key (staged, active, retired). Cacheable briefly. */
export function createJwksHandler(ctx: BffContext): RequestHandler {
  return (_req, res) => {
    const body: JwksResponse = { keys: ctx.keyRing.publicJwks() as Array<Record<string, unknown>> };
    res.set('Cache-Control', 'public, max-age=60');
    res.json(body);
  };
}
