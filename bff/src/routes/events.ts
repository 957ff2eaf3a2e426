import type { BffContext } from '../context.js';
import { EVENT_STREAM_HEADERS, type EventStreams } from '../events/event-streams.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { logCsrfRejection, originRefusal } from '../http/csrf.js';
import { StreamedBody, type AuthRoute } from '../http/exchange.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { requireSession } from '../session/resolve.js';

/**
 * GET /events: this device's server-sent event stream. Authenticated by the session cookie alone (EventSource cannot
 * send `X-CSRF`; a GET that only reads is safe without it, SameSite=Strict keeps the cookie same-site, and CORS keeps
 * other origins from reading the stream), with the `Origin` allow-list still enforced when the browser sends one.
 * The session is checked on every connect, so a reconnecting stream of an ended session gets 401 or, when the
 * local view already knows, `session_ended` at once. The answer's body is streamed: `bff.router` writes it on
 * Express's response, `bff.fetch` as a `ReadableStream`; either reports the client leaving.
 */
export function createEventsRoute(
  ctx: BffContext,
  streams: EventStreams,
  isSessionRevoked: (sid: string, userId: string, createdAt: number, tenant?: string) => boolean,
): AuthRoute {
  return async (req, reply) => {
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    const refusal = originRefusal(req, ctx.options.origins.allowed);
    if (refusal) {
      // The same security event as the other cookie routes' CSRF check (the Origin, never cookies).
      logCsrfRejection(ctx.logger, req, 'origin');
      throw new LatchkeyError('csrf_rejected', refusal);
    }
    streams.assertProcessRoom();
    const { session } = await requireSession(ctx, req.get('cookie'));
    const body = new StreamedBody();
    // The client may have gone while its session was being checked: the stream is then never registered.
    if (req.connectionClosed()) body.clientGone();
    streams.open(body, session);
    // Ended between the store's answer and now? The view has it (same tick: no event can slip between).
    if (isSessionRevoked(session.sid, session.userId, session.createdAt, session.tenant)) streams.endSession(session.sid, 'session_revoked');
    for (const [name, value] of EVENT_STREAM_HEADERS) reply.header(name, value);
    return reply.stream(200, body);
  };
}
