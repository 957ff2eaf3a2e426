import type { RequestHandler } from 'express';
import type { BffContext } from '../context.js';
import type { EventStreams } from '../events/event-streams.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { logCsrfRejection, originRefusal } from '../http/csrf.js';
import { requireSession } from '../session/resolve.js';
import { catchRejection } from '../http/async-handler.js';

/**
 * GET /events: this device's server-sent event stream. Authenticated by the session cookie alone (EventSource cannot
 * send `X-CSRF`; a GET that only reads is safe without it, SameSite=Strict keeps the cookie same-site, and CORS keeps
 * other origins from reading the stream), with the `Origin` allow-list still enforced when the browser sends one.
 * The session is checked on every connect, so a reconnecting stream of an ended session gets 401 or, when the
 * local view already knows, `session_ended` at once.
 */
export function createEventsHandler(
  ctx: BffContext,
  streams: EventStreams,
  isSessionRevoked: (sid: string, userId: string, createdAt: number, tenant?: string) => boolean,
): RequestHandler {
  return catchRejection(async (req, res) => {
    const refusal = originRefusal(req, ctx.options.allowedOrigins);
    if (refusal) {
      // The same security event as the other cookie routes' CSRF check (the Origin, never cookies).
      logCsrfRejection(ctx.logger, req, 'origin');
      throw new LatchkeyError('csrf_rejected', refusal);
    }
    streams.assertProcessRoom();
    const { session } = await requireSession(ctx, req.headers.cookie);
    streams.open(req, res, session);
    // Ended between the store's answer and now? The view has it (same tick: no event can slip between).
    if (isSessionRevoked(session.sid, session.userId, session.createdAt, session.tenant)) streams.endSession(session.sid, 'session_revoked');
  });
}
