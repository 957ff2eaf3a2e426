import { ROUTES } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { Guard } from '../guard/guard.js';
import { createClientAuthenticator, type ClientRoute } from '../http/client-auth.js';
import { createClientAuthLimit } from '../http/client-auth-limit.js';
import type { AuthRoute } from '../http/exchange.js';
import { createFormBodyParser } from '../http/form-body.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { checkServerOnly } from '../http/server-only.js';
import { createIntrospectRoute } from './introspect.js';
import { createRevokeRoute } from './revoke.js';
import { entry, type RouteEntry } from './route-table.js';

/** Room in a form body beside the token: token_type_hint, and client_id and client_secret for client_secret_post. */
const FORM_OVERHEAD_BYTES = 4096;

const notFound: AuthRoute = () => Promise.reject(new LatchkeyError('not_found'));

/**
 * POST /introspect (RFC 7662) and POST /revoke (RFC 7009), for the configured `resourceClients` only (otherwise
 * 404). Ahead of the cookie routes' X-CSRF check and JSON parser: these take a form body and a client's credentials,
 * never the session cookie (see docs/introspection.md). Any other method is 404: RFC 7662 and RFC 7009 define POST
 * only (a GET would put the token in a URL).
 */
export function oauthEndpoints(ctx: BffContext, guard: Guard): RouteEntry[] {
  const fallback = [entry('ALL', ROUTES.introspect, notFound), entry('ALL', ROUTES.revoke, notFound)];
  if (ctx.options.resourceClients.length === 0) return fallback;
  const parseForm = createFormBodyParser(ctx.options.tokens.maxBytes + FORM_OVERHEAD_BYTES);
  const authenticate = createClientAuthenticator(ctx.options.resourceClients, ctx.logger, createClientAuthLimit(ctx));
  const authenticated =
    (route: ClientRoute): AuthRoute =>
    async (req, reply) => {
      for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
      checkServerOnly(req);
      const form = await parseForm(req.bodySource);
      req.body = form;
      return route(req, reply, form, await authenticate(req, form));
    };
  return [
    entry('POST', ROUTES.introspect, authenticated(createIntrospectRoute(ctx, guard))),
    entry('POST', ROUTES.revoke, authenticated(createRevokeRoute(ctx, guard))),
    ...fallback,
  ];
}
