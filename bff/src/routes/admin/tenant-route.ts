import type { Request } from 'express';
import type { BffAdmin } from '../../admin.js';
import type { AdminActionResult } from './admin-action.js';
import { emptyBody, paramsOf, parseInput, tenantParam } from './admin-input.js';
import { boundTenant, outsideTenant } from './tenant-bound.js';

/** DELETE /tenants/:tenant/sessions: rejects the tenant's older tokens everywhere and ends its device sessions. */
export function revokeTenant(admin: BffAdmin) {
  return async (req: Request): Promise<AdminActionResult> => {
    const { tenant } = parseInput(tenantParam, paramsOf(req), 'tenant');
    parseInput(emptyBody, req.body, 'request body');
    // Both names are normalised (the path here, the claim when it was granted): one spelling per tenant.
    const own = boundTenant(req);
    if (own !== undefined && own !== tenant) throw outsideTenant();
    const { sessionsEnded } = await admin.revokeTenant(tenant);
    return { status: 200, body: { sessionsEnded }, audit: { sessionsEnded } };
  };
}
