import type { Request } from 'express';
import type { BffAdmin } from '../../admin.js';
import type { AdminActionResult } from './admin-action.js';
import { emptyBody, parseInput } from './admin-input.js';

type KeyOperation = 'stageSigningKey' | 'rotateSigningKey' | 'emergencyRotateKeys';

/**
 * POST /keys/stage, /keys/rotate, /keys/emergency-rotate: the key-ring operations of `bff.admin`, answered with the
 * kid they produced. After an emergency rotation every access token, the admin's own included, stops working.
 */
export function keyOperation(admin: BffAdmin, operation: KeyOperation) {
  return async (req: Request): Promise<AdminActionResult> => {
    parseInput(emptyBody, req.body, 'request body');
    const kid = await admin[operation]();
    return { status: 200, body: { kid }, audit: { kid } };
  };
}
