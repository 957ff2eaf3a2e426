import type { Request } from 'express';
import type { SessionListResponse } from '@latchkey/shared';
import type { BffAdmin } from '../../admin.js';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import { sessionListEntry } from '../../session/session-list-entry.js';
import type { AdminActionResult } from './admin-action.js';
import { emptyBody, paramsOf, parseInput, userIdParam, userSessionParams } from './admin-input.js';
import { sessionsInTenant } from './tenant-bound.js';

/** An admin's view of a device session: GET /sessions's fields, plus the tenant and the IdP link (issuer and subject) when there are. */
export type AdminSessionListResponse = {
  sessions: Array<SessionListResponse['sessions'][number] & { tenant?: string; idp?: { iss: string; sub: string } }>;
};

/**
 * GET /users/:userId/sessions: the user's devices, with the public fields of GET /sessions and, where set, `tenant` and
 * `idp` (bounded by `session.maxPerUser`).
 */
export function listUserSessions(admin: BffAdmin) {
  return async (req: Request): Promise<AdminActionResult> => {
    const { userId } = parseInput(userIdParam, paramsOf(req), 'user id');
    // A tenant-bound admin: 403 unless every session is of its tenant (a user without sessions lists as empty).
    const sessions = (await sessionsInTenant(admin, req, userId)) ?? (await admin.listUserSessions(userId));
    const body: AdminSessionListResponse = {
      sessions: sessions.map((s) => ({
        ...sessionListEntry(s, req.auth?.sid),
        // What an operator needs besides the user's own view: the tenant and the IdP account, public parts only.
        ...(s.tenant !== undefined ? { tenant: s.tenant } : {}),
        ...(s.idp ? { idp: { iss: s.idp.iss, sub: s.idp.sub } } : {}),
      })),
    };
    return { status: 200, body, audit: { sessions: sessions.length } };
  };
}

/** DELETE /users/:userId/sessions/:sid: ends one device session of the user. 404 when it is not one of theirs, or not live. */
export function endUserSession(admin: BffAdmin) {
  return async (req: Request): Promise<AdminActionResult> => {
    const { userId, sid } = parseInput(userSessionParams, paramsOf(req), 'session');
    parseInput(emptyBody, req.body, 'request body');
    const inTenant = await sessionsInTenant(admin, req, userId);
    if (inTenant !== undefined && !inTenant.some((s) => s.sid === sid)) throw new LatchkeyError('not_found', 'No such session.');
    if (!(await admin.endUserSession(userId, sid))) throw new LatchkeyError('not_found', 'No such session.');
    return { status: 204 };
  };
}

/** DELETE /users/:userId/sessions: ends every device session of the user and rejects every token issued before now. */
export function revokeUser(admin: BffAdmin) {
  return async (req: Request): Promise<AdminActionResult> => {
    const { userId } = parseInput(userIdParam, paramsOf(req), 'user id');
    parseInput(emptyBody, req.body, 'request body');
    // A tenant-bound admin revokes users it can see in its tenant: with no live session, nothing says whose the user is.
    const inTenant = await sessionsInTenant(admin, req, userId);
    if (inTenant?.length === 0) throw new LatchkeyError('not_found', 'No live session of this user in your tenant.');
    const { sessionsEnded } = await admin.revokeUser(userId);
    return { status: 200, body: { sessionsEnded }, audit: { sessionsEnded } };
  };
}
