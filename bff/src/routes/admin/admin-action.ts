import type { Request, RequestHandler } from 'express';
import type { BffContext } from '../../context.js';
import { catchRejection } from '../../http/async-handler.js';
import { toLatchkeyError } from '../../http/error-handler.js';
import { tracedRoute } from '../../observability/tracing-route.js';

/** What an admin handler answers, and what its audit line adds about the result (counts, kids; never a token). */
export interface AdminActionResult {
  status: number;
  body?: unknown;
  audit?: Record<string, unknown>;
}

export type AdminActionName =
  'revoke_user' | 'revoke_token' | 'list_sessions' | 'end_session' | 'stage_key' | 'rotate_key' | 'emergency_rotate_keys' | 'revoke_tenant';

/** The target named by the path (user, session, tenant), as Express decoded it. */
function targetOf(req: Request): Record<string, string> {
  const target: Record<string, string> = {};
  for (const name of ['userId', 'sid', 'tenant'] as const) {
    const value = req.params[name];
    if (typeof value === 'string') target[name] = value;
  }
  return target;
}

/** Who acted: the admin's subject and device session, from the verified token (never the token itself). */
export function actorOf(req: Request): { sub: string; sid: string } | undefined {
  return req.auth ? { sub: req.auth.sub, sid: req.auth.sid } : undefined;
}

/**
 * Runs one admin action and writes its audit line (who, what, target, outcome) and metric, whether it succeeded or
 * failed; the error itself goes on to the router's error handler.
 */
export function adminAction(ctx: BffContext, action: AdminActionName, run: (req: Request) => Promise<AdminActionResult>): RequestHandler {
  const handler = tracedRoute(ctx, `latchkey.admin.${action}`, async (req, res, trace) => {
    const entry = { event: 'admin_audit', action, actor: actorOf(req), target: targetOf(req) };
    let result: AdminActionResult;
    try {
      result = await run(req);
    } catch (error) {
      const outcome = toLatchkeyError(error).code;
      const counted = outcome === 'not_found' || outcome === 'invalid_request' || outcome === 'insufficient_scope';
      ctx.metrics.adminActions.inc({ action, outcome: counted ? outcome : 'error' });
      ctx.logger.warn({ ...entry, outcome }, 'admin action failed');
      throw error;
    }
    ctx.metrics.adminActions.inc({ action, outcome: 'ok' });
    trace.outcome('ok');
    ctx.logger.info({ ...entry, outcome: 'ok', ...(result.audit ? { detail: result.audit } : {}) }, 'admin action');
    if (result.body === undefined) res.status(result.status).end();
    else res.status(result.status).json(result.body);
  });
  return catchRejection(handler);
}
