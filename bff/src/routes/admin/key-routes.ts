import type { Request } from 'express';
import type { BffAdmin } from '../../admin.js';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import { scopesOf } from '../../tokens/custom-claims.js';
import type { AdminActionResult } from './admin-action.js';
import { emptyBody, parseInput } from './admin-input.js';
import { boundTenant, outsideTenant } from './tenant-bound.js';

type KeyOperation = 'stageSigningKey' | 'rotateSigningKey' | 'emergencyRotateKeys';

/**
 * POST /keys/stage, /keys/rotate, /keys/emergency-rotate: the key-ring operations of `bff.admin`, answered with the
 * kid they produced. After an emergency rotation every access token, the admin's own included, stops working.
 * They need the keys scope besides the admin scope (an emergency rotation signs everybody out), and a token bound to
 * a tenant may not use them: the keys sign every tenant's tokens.
 */
export function keyOperation(admin: BffAdmin, operation: KeyOperation, scopes: { admin: string; keys: string }) {
  return async (req: Request): Promise<AdminActionResult> => {
    if (!scopesOf(req.auth?.scope).has(scopes.keys)) {
      throw new LatchkeyError('insufficient_scope', `The signing keys need the ${scopes.keys} scope.`, {
        headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scopes.admin} ${scopes.keys}"` },
      });
    }
    if (boundTenant(req) !== undefined) throw outsideTenant('The signing keys serve every tenant: a tenant-bound admin token cannot rotate them.');
    parseInput(emptyBody, req.body, 'request body');
    const kid = await admin[operation]();
    return { status: 200, body: { kid }, audit: { kid } };
  };
}
