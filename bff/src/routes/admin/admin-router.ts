import { Router, type Request, type RequestHandler } from 'express';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import type { BffAdmin } from '../../admin.js';
import type { BffContext } from '../../context.js';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import type { Guard } from '../../guard/guard.js';
import { createErrorHandler, toLatchkeyError } from '../../http/error-handler.js';
import { jsonBody } from '../../http/json-body.js';
import { noStore } from '../../http/no-store.js';
import { SCOPE_TOKEN } from '../../tokens/custom-claims.js';
import { adminAction } from './admin-action.js';
import { keyOperation, revokeAllSessions } from './key-routes.js';
import { readActivity, readKeys, readOperator } from './read-routes.js';
import { revokeTenant } from './tenant-route.js';
import { revokeToken } from './token-route.js';
import { endUserSession, listUserSessions, revokeUser } from './user-routes.js';

/** Paths of the admin router, relative to where the application mounts it (for example `/admin`). */
export const ADMIN_ROUTES = Object.freeze({
  userSessions: '/users/:userId/sessions',
  userSession: '/users/:userId/sessions/:sid',
  revokeToken: '/tokens/revoke',
  stageKey: '/keys/stage',
  rotateKey: '/keys/rotate',
  emergencyRotateKeys: '/keys/emergency-rotate',
  tenantSessions: '/tenants/:tenant/sessions',
  revokeAllSessions: '/sessions/revoke-all',
  operator: '/operator',
  keys: '/keys',
  activity: '/activity',
} as const);

export const DEFAULT_ADMIN_SCOPE = 'latchkey:admin';
export const DEFAULT_KEYS_SCOPE = 'latchkey:keys';
/** Admin actions need an authentication at most 15 minutes old by default (ASVS 7.5.3: re-authenticate before sensitive changes). */
export const DEFAULT_ADMIN_MAX_AUTH_AGE_SECONDS = 900;

const scopeOption = (fallback: string) =>
  z.string().max(128).regex(SCOPE_TOKEN, 'a scope is printable ASCII without spaces, quotes or backslashes').default(fallback);

const adminRouterOptionsSchema = z
  .strictObject({
    /** The scope an access token must carry to use the admin routes. */
    scope: scopeOption(DEFAULT_ADMIN_SCOPE),
    /**
     * The scope the deployment-wide routes (keys: stage, rotate, emergency-rotate; sessions/revoke-all) need besides
     * `scope`: they act on every tenant and token.
     */
    keysScope: scopeOption(DEFAULT_KEYS_SCOPE),
    /**
     * Step-up (RFC 9470): the administrator must have authenticated at most this many seconds ago (the token's
     * `auth_time`), otherwise 401 `insufficient_user_authentication` with `max_age`; null turns it off.
     */
    maxAuthAgeSeconds: z.number().int().min(0).nullable().default(DEFAULT_ADMIN_MAX_AUTH_AGE_SECONDS),
  })
  .refine((o) => o.keysScope !== o.scope, { message: 'keysScope must differ from scope (key rotation needs a scope of its own)', path: ['keysScope'] });

export type AdminRouterOptions = z.input<typeof adminRouterOptionsSchema>;

function resolveAdminRouterOptions(input: AdminRouterOptions): Readonly<z.output<typeof adminRouterOptionsSchema>> {
  const parsed = adminRouterOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys' ? `unknown option ${i.keys.join(', ')}` : `${i.path.join('.')}: ${i.message}`,
    );
    throw new TypeError(`Invalid Latchkey admin router options: ${detail.join('; ')}`);
  }
  return Object.freeze(parsed.data);
}

/**
 * Who was refused for lacking the scope. The guard answers `insufficient_scope` only for a token it has verified
 * (signature, claims, revocation), so reading its claims without verifying them again is safe here, and only here.
 */
function verifiedActor(req: Request): { sub: string; sid: string } | undefined {
  const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (token === undefined) return undefined;
  const { sub, sid } = decodeJwt(token);
  return typeof sub === 'string' && typeof sid === 'string' ? { sub, sid } : undefined;
}

/**
 * The admin HTTP API over `bff.admin`: Bearer access tokens carrying the admin scope (403 `insufficient_scope`
 * without it; the key routes also need the keys scope; a token with a `tenant` claim acts on that tenant only) and a
 * recent authentication (`maxAuthAgeSeconds`, 401 `insufficient_user_authentication`), failing closed while the store
 * is unreachable (every action reads or writes the store anyway).
 * Nothing here is rate limited: a limit an attacker can fill would lock the administrators out during an incident;
 * bodies are capped and strictly parsed like the BFF's. Every action, and every refused token, is audit-logged.
 */
export function createAdminRouter(ctx: BffContext, guard: Guard, admin: BffAdmin, input: AdminRouterOptions = {}): Router {
  const options = resolveAdminRouterOptions(input);
  const authenticate = guard.requireAuth({
    scopes: [options.scope],
    onStoreUnavailable: 'closed',
    ...(options.maxAuthAgeSeconds !== null ? { maxAuthAgeSeconds: options.maxAuthAgeSeconds } : {}),
  });
  // Refused attempts are part of the audit trail: who tried (when the token was valid), where, and why.
  const audited: RequestHandler = (req, res, next) =>
    authenticate(req, res, (error?: unknown) => {
      if (error !== undefined) {
        const outcome = toLatchkeyError(error).code;
        const actor = outcome === 'insufficient_scope' || outcome === 'insufficient_user_authentication' ? verifiedActor(req) : undefined;
        ctx.logger.warn({ event: 'admin_audit', action: 'authenticate', path: req.path, ...(actor ? { actor } : {}), outcome }, 'admin request refused');
        ctx.activity.record({ kind: 'admin_refused', action: 'authenticate', outcome, target: { path: req.path }, ...(actor ? { actor } : {}) });
      }
      next(error);
    });
  // Room for the largest token the guard accepts, plus the JSON around it.
  const bodyLimit = `${ctx.options.tokens.maxBytes + 1024}b`;
  const keyScopes = { admin: options.scope, keys: options.keysScope };

  const router = Router();
  router.use(noStore, audited, jsonBody(bodyLimit));
  router.get(ADMIN_ROUTES.userSessions, adminAction(ctx, 'list_sessions', listUserSessions(admin)));
  router.delete(ADMIN_ROUTES.userSessions, adminAction(ctx, 'revoke_user', revokeUser(admin)));
  router.delete(ADMIN_ROUTES.userSession, adminAction(ctx, 'end_session', endUserSession(admin)));
  router.post(ADMIN_ROUTES.revokeToken, adminAction(ctx, 'revoke_token', revokeToken(admin, guard, ctx.options.tokens.maxBytes)));
  router.post(ADMIN_ROUTES.stageKey, adminAction(ctx, 'stage_key', keyOperation(admin, 'stageSigningKey', keyScopes)));
  router.post(ADMIN_ROUTES.rotateKey, adminAction(ctx, 'rotate_key', keyOperation(admin, 'rotateSigningKey', keyScopes)));
  router.post(ADMIN_ROUTES.emergencyRotateKeys, adminAction(ctx, 'emergency_rotate_keys', keyOperation(admin, 'emergencyRotateKeys', keyScopes)));
  router.delete(ADMIN_ROUTES.tenantSessions, adminAction(ctx, 'revoke_tenant', revokeTenant(admin)));
  router.post(ADMIN_ROUTES.revokeAllSessions, adminAction(ctx, 'revoke_all_sessions', revokeAllSessions(admin, keyScopes)));
  // Reads an operators' console polls: logged at debug (see AdminActionOptions.quiet).
  router.get(ADMIN_ROUTES.operator, adminAction(ctx, 'read_operator', readOperator(options.keysScope), { quiet: true }));
  router.get(ADMIN_ROUTES.keys, adminAction(ctx, 'read_keys', readKeys(ctx), { quiet: true }));
  router.get(ADMIN_ROUTES.activity, adminAction(ctx, 'read_activity', readActivity(ctx), { quiet: true }));
  router.use((_req, _res, next) => next(new LatchkeyError('not_found')));
  router.use(createErrorHandler(ctx.logger, { handles: 'all', onStoreUnavailable: () => ctx.metrics.storeErrors.inc() }));
  return router;
}
