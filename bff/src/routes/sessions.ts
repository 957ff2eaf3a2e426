import type { RequestHandler } from 'express';
import type { SessionListResponse } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { sessionListEntry } from '../session/session-list-entry.js';
import { requireSession } from '../http/session-auth.js';
import { clearSessionCookie } from '../http/session-cookie.js';

/** GET /sessions: the caller's devices, public handles only. */
export function createListSessionsHandler(ctx: BffContext): RequestHandler {
  return async (req, res) => {
    const { session } = await requireSession(ctx, req);
    const sessions = await ctx.store.listUserSessions(session.userId, ctx.now(), ctx.options.maxSessionsPerUser);
    const body: SessionListResponse = {
      sessions: sessions.map((s) => sessionListEntry(s, session.sid)),
    };
    res.json(body);
  };
}

const SID_FORMAT = /^[A-Za-z0-9_-]{1,64}$/;

/** DELETE /sessions/:id: signs one of the caller's own devices out. Anyone else's id (or an unknown one) is 404. */
export function createRevokeSessionHandler(ctx: BffContext): RequestHandler {
  return async (req, res) => {
    const { session } = await requireSession(ctx, req);
    const id = req.params.id;
    if (typeof id !== 'string' || !SID_FORMAT.test(id)) throw new LatchkeyError('not_found', 'No such session.');
    const ended = await ctx.store.endUserSessionBySid(session.userId, id, 'session_revoked', ctx.now(), ctx.markerTtlMs);
    if (ended === null) throw new LatchkeyError('not_found', 'No such session.');
    ctx.metrics.logouts.inc({ scope: 'revoke_device' });
    ctx.logger.info({ event: 'session_revoked', userId: session.userId, sid: ended.sid, by: session.sid }, 'device signed out');
    if (ended.sid === session.sid) clearSessionCookie(res, ctx.options);
    res.status(204).end();
  };
}
