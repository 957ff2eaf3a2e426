import type { Request } from 'express';
import type { BffAdmin } from '../../admin.js';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import { scopesOf } from '../../tokens/custom-claims.js';
import type { AdminActionResult } from './admin-action.js';
import { emptyBody, parseInput } from './admin-input.js';
import { boundTenant, outsideTenant } from './tenant-bound.js';

type KeyOperation = 'stageSigningKey' | 'rotateSigningKey' | 'emergencyRotateKeys';

/** 403 unless the token carries the keys scope (`needs`: what needs it); a tenant-bound token never passes (`why`). */
function requireDeploymentWide(req: Request, scopes: { admin: string; keys: string }, needs: string, why: string): void {
  if (!scopesOf(req.auth?.scope).has(scopes.keys)) {
    throw new LatchkeyError('insufficient_scope', `${needs} the ${scopes.keys} scope.`, {
      headers: { 'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scopes.admin} ${scopes.keys}"` },
    });
  }
  if (boundTenant(req) !== undefined) throw outsideTenant(why);
}

/**
 * POST /keys/stage, /keys/rotate, /keys/emergency-rotate: the key-ring operations of `bff.admin`, answered with the
 * kid they produced. After an emergency rotation every access token, the admin's own included, stops working.
 * They need the keys scope besides the admin scope (an emergency rotation signs everybody out), and a token bound to
 * a tenant may not use them: the keys sign every tenant's tokens.
 */
export function keyOperation(admin: BffAdmin, operation: KeyOperation, scopes: { admin: string; keys: string }) {
  return async (req: Request): Promise<AdminActionResult> => {
    requireDeploymentWide(req, scopes, 'The signing keys need', 'The signing keys serve every tenant: a tenant-bound admin token cannot rotate them.');
    parseInput(emptyBody, req.body, 'request body');
    const kid = await admin[operation]();
    return { status: 200, body: { kid }, audit: { kid } };
  };
}

/**
 * POST /sessions/revoke-all: `bff.admin.revokeAllSessions`, answered with how many device sessions ended. The incident
 * twin of /keys/emergency-rotate and held to the same bar: the keys scope besides the admin scope (it signs everybody
 * out, the admin included, like nothing else but a key compromise response), and never a tenant-bound token (it reaches
 * every tenant).
 */
export function revokeAllSessions(admin: BffAdmin, scopes: { admin: string; keys: string }) {
  return async (req: Request): Promise<AdminActionResult> => {
    requireDeploymentWide(req, scopes, 'Revoking every session needs', 'Every session of every tenant: a tenant-bound admin token cannot revoke them all.');
    parseInput(emptyBody, req.body, 'request body');
    const { sessionsEnded } = await admin.revokeAllSessions();
    return { status: 200, body: { sessionsEnded }, audit: { sessionsEnded } };
  };
}
