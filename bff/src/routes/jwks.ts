import type { JwksResponse } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import type { AuthRoute } from '../http/exchange.js';

/** GET /jwks.json: public members of every published key (staged, active, retired). Cacheable briefly. */
export function createJwksRoute(ctx: BffContext): AuthRoute {
  return async (_req, reply) => {
    const body: JwksResponse = { keys: ctx.keyRing.publicJwks() as Array<Record<string, unknown>> };
    return reply.header('Cache-Control', 'public, max-age=60').send(200, body);
  };
}
