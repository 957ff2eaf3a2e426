import type { Request } from 'express';
import type { BffAdmin } from '../../admin.js';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import type { DeviceSessionRecord } from '../../store/types.js';

/**
 * The tenant an admin token is bound to: its `tenant` claim (normalised when it was granted), or undefined for a
 * deployment-wide administrator (a token without one). A bound token acts on its own tenant only.
 */
export function boundTenant(req: Request): string | undefined {
  const tenant = req.auth?.tenant;
  return typeof tenant === 'string' ? tenant : undefined;
}

/** 403: the action reaches beyond the admin token's tenant (the target's name is never echoed). */
export function outsideTenant(message = 'This admin token may act on its own tenant only.'): LatchkeyError {
  return new LatchkeyError('insufficient_scope', message, { headers: { 'WWW-Authenticate': 'Bearer error="insufficient_scope"' } });
}

/**
 * For a tenant-bound admin, the user's live sessions, all of them of the admin's tenant: a user with a session of
 * another tenant (or of none) is refused. Unbound admins get undefined (nothing to check). A user's tenant is what
 * their sessions say; one whose tenant changes between this read and the action is the application's own race.
 */
export async function sessionsInTenant(admin: BffAdmin, req: Request, userId: string): Promise<DeviceSessionRecord[] | undefined> {
  const tenant = boundTenant(req);
  if (tenant === undefined) return undefined;
  const sessions = await admin.listUserSessions(userId);
  if (sessions.some((s) => s.tenant !== tenant)) throw outsideTenant();
  return sessions;
}
