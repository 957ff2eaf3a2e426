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
  | 'revoke_user'
  | 'revoke_token'
  | 'list_sessions'
  | 'end_session'
  | 'stage_key'
  | 'rotate_key'
  | 'emergency_rotate_keys'
  | 'revoke_tenant'
  | 'revoke_all_sessions'
  | 'read_operator'
  | 'read_keys'
  | 'read_activity';

export interface AdminActionOptions {
  /**
   * A read an operators' console polls (the feed, the key ring, who am I): its success is logged at debug, not info,
   * and stays out of the activity feed, so a console left open does not bury the actions. Refusals and failures are
   * logged at warn as always.
   */
  quiet?: boolean;
}

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
export function adminAction(
  ctx: BffContext,
  action: AdminActionName,
  run: (req: Request) => Promise<AdminActionResult>,
  options: AdminActionOptions = {},
): RequestHandler {
  const handler = tracedRoute(ctx, `latchkey.admin.${action}`, async (req, res, trace) => {
    const entry = { event: 'admin_audit', action, actor: actorOf(req), target: targetOf(req) };
    // The operators' feed gets the same who/what/target/outcome as the audit line.
    const feed = (outcome: string, detail?: Record<string, unknown>) =>
      ctx.activity.record({
        kind: 'admin_action',
        action,
        outcome,
        ...(entry.actor ? { actor: entry.actor } : {}),
        ...(Object.keys(entry.target).length > 0 ? { target: entry.target } : {}),
        ...(detail ? { detail } : {}),
      });
    let result: AdminActionResult;
    try {
      result = await run(req);
    } catch (error) {
      const outcome = toLatchkeyError(error).code;
      const counted = outcome === 'not_found' || outcome === 'invalid_request' || outcome === 'insufficient_scope';
      ctx.metrics.adminActions.inc({ action, outcome: counted ? outcome : 'error' });
      ctx.logger.warn({ ...entry, outcome }, 'admin action failed');
      feed(outcome);
      throw error;
    }
    ctx.metrics.adminActions.inc({ action, outcome: 'ok' });
    trace.outcome('ok');
    const line = { ...entry, outcome: 'ok', ...(result.audit ? { detail: result.audit } : {}) };
    if (options.quiet) ctx.logger.debug(line, 'admin action');
    else {
      ctx.logger.info(line, 'admin action');
      feed('ok', result.audit);
    }
    if (result.body === undefined) res.status(result.status).end();
    else res.status(result.status).json(result.body);
  });
  return catchRejection(handler);
}
