import type { Router } from 'express';
import { ROUTES } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { Guard } from '../guard/guard.js';
import { requireClient } from '../http/client-auth.js';
import { createClientAuthLimit } from '../http/client-auth-limit.js';
import { catchRejection } from '../http/async-handler.js';
import { formBody } from '../http/form-body.js';
import { noStore } from '../http/no-store.js';
import { serverOnly } from '../http/server-only.js';
import { createIntrospectHandler } from './introspect.js';
import { createRevokeHandler } from './revoke.js';

/** Room in a form body beside the token: token_type_hint, and client_id and client_secret for client_secret_post. */
const FORM_OVERHEAD_BYTES = 4096;

/**
 * POST /introspect (RFC 7662) and POST /revoke (RFC 7009), for the configured `resourceClients` only (otherwise
 * 404). Mounted before the cookie routes' X-CSRF check and JSON parser: these take a form body and a client's
 * credentials, never the session cookie (see docs/introspection.md).
 */
export function mountOAuthEndpoints(router: Router, ctx: BffContext, guard: Guard): void {
  const paths = [ROUTES.introspect, ROUTES.revoke];
  if (ctx.options.resourceClients.length === 0) {
    router.all(paths, (_req, _res, next) => next(new LatchkeyError('not_found')));
    return;
  }
  const authenticated = [
    noStore,
    serverOnly,
    formBody(ctx.options.maxTokenBytes + FORM_OVERHEAD_BYTES),
    requireClient(ctx.options.resourceClients, ctx.logger, createClientAuthLimit(ctx)),
  ];
  router.post(ROUTES.introspect, ...authenticated, catchRejection(createIntrospectHandler(ctx, guard)));
  router.post(ROUTES.revoke, ...authenticated, catchRejection(createRevokeHandler(ctx, guard)));
  // Any other method: RFC 7662 and RFC 7009 define POST only (a GET would put the token in a URL).
  router.all(paths, (_req, _res, next) => next(new LatchkeyError('not_found')));
}
