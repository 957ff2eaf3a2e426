import type { SessionListResponse } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRoute } from '../http/exchange.js';
import { clearedSessionCookieHeaders } from '../session/cookie.js';
import { endSessions } from '../session/end.js';
import { requireSession } from '../session/resolve.js';
import { sessionListEntry } from '../session/session-list-entry.js';

/** GET /sessions: the caller's devices, public handles only. */
export function createListSessionsRoute(ctx: BffContext): AuthRoute {
  return async (req, reply) => {
    const { session } = await requireSession(ctx, req.get('cookie'));
    const sessions = await ctx.store.listUserSessions(session.userId, ctx.now(), ctx.options.session.maxPerUser);
    const body: SessionListResponse = {
      sessions: sessions.map((s) => sessionListEntry(s, session.sid)),
    };
    return reply.send(200, body);
  };
}

const SID_FORMAT = /^[A-Za-z0-9_-]{1,64}$/;

/** DELETE /sessions/:id: signs one of the caller's own devices out. Anyone else's id (or an unknown one) is 404. */
export function createRevokeSessionRoute(ctx: BffContext): AuthRoute {
  return async (req, reply) => {
    const { session } = await requireSession(ctx, req.get('cookie'));
    const id = req.params.id;
    if (typeof id !== 'string' || !SID_FORMAT.test(id)) throw new LatchkeyError('not_found', 'No such session.');
    const [ended] = await endSessions(
      ctx,
      { userId: session.userId, sid: id },
      { reason: 'device_revoked', event: 'session_revoked', message: 'device signed out', fields: { by: session.sid } },
    );
    if (ended === undefined) throw new LatchkeyError('not_found', 'No such session.');
    if (ended.sid === session.sid) reply.setCookie(...clearedSessionCookieHeaders(ctx));
    return reply.send(204);
  };
}
