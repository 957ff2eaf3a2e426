import type { BffContext } from '../context.js';
import type { Guard } from '../guard/guard.js';
import type { ClientRoute, ResourceClient } from '../http/client-auth.js';
import type { AuthRequest, Reply } from '../http/exchange.js';
import { tokenWithinClient } from '../http/resource-client-scope.js';
import type { FormParameters } from '../http/form-body.js';
import { tracedRoute } from '../observability/tracing-route.js';
import { rethrowStoreUnavailable, tokenParameter } from './introspect.js';

/** How long a revocation waits for this process's own view to apply it before answering anyway. */
const APPLIED_WAIT_MS = 1000;

/**
 * POST /revoke (RFC 7009), after client authentication. A validly signed access token of this deployment (expired
 * or not yet, revoked or not) goes on the jti deny list until it would have expired (plus the clock skew); anything
 * else (a token outside the client's `audiences` or `tenants` included) changes nothing. Either way the answer is 200 with an empty body (§2.2): a caller learns nothing about a token
 * it could not already verify. `token_type_hint` is only a hint (§2.1): `refresh_token` or any other value still
 * searches access tokens, the only kind this BFF hands out, so there is no `unsupported_token_type`.
 * The answer waits (briefly) until this process's guard applies the revocation, so an introspection or a guarded
 * request on this instance that follows the 200 sees it; other instances see it when their view does (a few
 * milliseconds on Redis). 503 with Retry-After when the store cannot take the revocation.
 */
export function createRevokeRoute(ctx: BffContext, guard: Guard): ClientRoute {
  const skewMs = ctx.options.tokens.clockSkewSeconds * 1000;
  const traced = tracedRoute(ctx, 'latchkey.revoke', async ({ form, client }: { form: FormParameters; client: ResourceClient }, reply: Reply, trace) => {
    const token = tokenParameter(form);
    const claims = await guard.verify(token).catch(rethrowStoreUnavailable);
    // Outside the client's audiences or tenants: for this client no token of ours, so nothing changes (as introspection
    // answers it inactive); logged, since a restricted client has no reason to send one.
    const outside = typeof claims !== 'string' && !tokenWithinClient(client, claims);
    if (outside) ctx.logger.warn({ event: 'revoke_outside_client', by: client.id, jti: claims.jti }, 'revocation outside the client ignored');
    // A token that is not ours (or not valid) is answered 200 all the same (RFC 7009 §2.2); the span says which.
    trace.outcome(typeof claims === 'string' ? claims : outside ? 'outside_client' : 'revoked');
    if (typeof claims !== 'string' && !outside) {
      // No token of ours outlives markerTtlMs from now, whatever its exp says.
      const ttlMs = Math.min(ctx.markerTtlMs, claims.exp * 1000 + skewMs - ctx.now());
      if (ttlMs > 0) {
        const applied = appliedByGuard(guard, claims.jti);
        try {
          await ctx.store.revokeJti(claims.jti, ttlMs);
        } catch (error) {
          applied.cancel();
          rethrowStoreUnavailable(error);
        }
        await applied.done;
        ctx.logger.info({ event: 'token_revoked', by: client.id, jti: claims.jti, sid: claims.sid, userId: claims.sub }, 'access token revoked');
      }
    }
    return reply.send(200);
  });
  return (_req: AuthRequest, reply, form, client) => traced({ form, client }, reply);
}

/** Resolves once the guard's view applies the jti's revocation, or after APPLIED_WAIT_MS. */
function appliedByGuard(guard: Guard, jti: string): { done: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(finish, APPLIED_WAIT_MS);
    const stop = guard.onLogEvent((event) => {
      if (event.kind === 'jti' && event.id === jti) finish();
    });
    function finish() {
      clearTimeout(timer);
      stop();
      resolve();
    }
    cancel = finish;
  });
  return { done, cancel };
}
