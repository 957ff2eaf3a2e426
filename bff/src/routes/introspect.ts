import type { AccessTokenClaims, IntrospectionResponse } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { Guard } from '../guard/guard.js';
import type { ClientRoute, ResourceClient } from '../http/client-auth.js';
import type { AuthRequest, Reply } from '../http/exchange.js';
import type { FormParameters } from '../http/form-body.js';
import { tokenWithinClient } from '../http/resource-client-scope.js';
import { tracedRoute } from '../observability/tracing-route.js';
import { StoreUnavailableError } from '../store/types.js';

/** The `token` parameter both OAuth endpoints require (RFC 7662 §2.1, RFC 7009 §2.1). */
export function tokenParameter(body: FormParameters): string {
  const token = body.token;
  if (token === undefined || token === '') throw new LatchkeyError('invalid_request', 'The token parameter is required.', { oauthBody: true });
  return token;
}

/** A store outage as 503 with Retry-After in the OAuth body these endpoints use; any other error as it is. */
export function rethrowStoreUnavailable(error: unknown): never {
  if (error instanceof StoreUnavailableError) throw new LatchkeyError('temporarily_unavailable', undefined, { oauthBody: true, cause: error });
  throw error;
}

function activeResponse(claims: AccessTokenClaims, client: ResourceClient): IntrospectionResponse {
  return {
    active: true,
    token_type: 'Bearer',
    ...(typeof claims.scope === 'string' ? { scope: claims.scope } : {}),
    client_id: claims.client_id,
    sub: claims.sub,
    exp: claims.exp,
    iat: claims.iat,
    ...(typeof claims.nbf === 'number' ? { nbf: claims.nbf } : {}),
    iss: claims.iss,
    aud: claims.aud,
    jti: claims.jti,
    sid: claims.sid,
    ...(client.includeTenant && typeof claims.tenant === 'string' ? { tenant: claims.tenant } : {}),
  };
}

/**
 * POST /introspect (RFC 7662), after client authentication: the guard's own decision (signature from the key ring,
 * typ, iss, aud, exp, nbf, iat, then the jti, session and user revocations from its local view), so a service that
 * cannot run the guard gets the same answer. Anything but a valid, unrevoked token is `{ active: false }` (never an
 * error: §2.2), and so is a token outside the client's `audiences` or `tenants`. `tenant` is answered to clients with
 * `includeTenant`. The `token_type_hint` is ignored: access tokens are the only tokens this BFF hands out. When the view
 * cannot be trusted (store unreachable) the answer is 503, never a possibly stale `active: true`: the caller is
 * deciding whether to serve a request, and has no fail policy of its own to apply (see docs/introspection.md).
 */
export function createIntrospectRoute(ctx: BffContext, guard: Guard): ClientRoute {
  const traced = tracedRoute(ctx, 'latchkey.introspect', async ({ form, client }: { form: FormParameters; client: ResourceClient }, reply: Reply, trace) => {
    const token = tokenParameter(form);
    const decision = await guard.check(token).catch(rethrowStoreUnavailable);
    // A token outside the client's audiences or tenants is not one it may introspect: inactive (RFC 7662 §2.2).
    const active = decision.outcome === 'valid' && tokenWithinClient(client, decision.claims);
    const body: IntrospectionResponse = active ? activeResponse(decision.claims, client) : { active: false };
    trace.outcome(active ? 'active' : 'inactive');
    return reply.send(200, body);
  });
  return (_req: AuthRequest, reply, form, client) => traced({ form, client }, reply);
}
