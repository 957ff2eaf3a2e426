import type { Request } from 'express';
import type { BffContext } from '../../context.js';
import { scopesOf } from '../../tokens/custom-claims.js';
import type { AdminActionResult } from './admin-action.js';
import { boundTenant, outsideTenant } from './tenant-bound.js';

/**
 * Read routes an operators' console needs besides the actions: who the operator is, the key ring, the recent activity.
 * Each is behind the same authentication as every admin route.
 */

/** GET /operator: the admin token's subject, its tenant (null: deployment-wide) and whether it may use the key routes. */
export function readOperator(keysScope: string) {
  return (req: Request): Promise<AdminActionResult> => {
    const body = { sub: req.auth!.sub, sid: req.auth!.sid, tenant: boundTenant(req) ?? null, keys: scopesOf(req.auth?.scope).has(keysScope) };
    return Promise.resolve({ status: 200, body });
  };
}

/**
 * GET /keys: the signing keys (kid, alg, state, createdAt, retireAfter), never their material. Read from the store
 * first, so a rotation made by another instance shows. The kids are public anyway (the JWKS), so any admin may read it.
 */
export function readKeys(ctx: BffContext) {
  return async (): Promise<AdminActionResult> => {
    await ctx.keyRing.syncWithStore();
    return { status: 200, body: { keys: ctx.keyRing.describe(), now: ctx.now() } };
  };
}

/**
 * GET /activity: the newest entries of the activity feed, newest first. It names users, sessions and tenants of every
 * tenant, so a tenant-bound admin is refused.
 */
export function readActivity(ctx: BffContext) {
  return (req: Request): Promise<AdminActionResult> => {
    if (boundTenant(req) !== undefined) throw outsideTenant('The activity feed covers every tenant: a tenant-bound admin token cannot read it.');
    return Promise.resolve({ status: 200, body: { entries: ctx.activity.recent(), now: ctx.now() } });
  };
}
