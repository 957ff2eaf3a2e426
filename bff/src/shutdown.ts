import type { Logger } from 'pino';
import { z } from 'zod';
import type { EventStreams } from './events/event-streams.js';
import type { InFlight } from './http/in-flight.js';
import type { SessionStore } from './store/types.js';

/** What `bff.close()` needs of a Node HTTP server (what `app.listen()` returns). */
export interface ClosableServer {
  close(callback?: (error?: Error) => void): unknown;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

export interface CloseOptions {
  /** How long requests in flight get to finish before they are cut, in ms. Default 10 000. */
  timeoutMs?: number;
  /**
   * The application's HTTP server (`app.listen()`'s): it stops accepting connections at once, and every request of
   * the app in flight (not only the BFF's) gets until `timeoutMs`; then its connections are closed.
   */
  server?: ClosableServer;
  /** Also close the store once the requests are done. Default false: the application made it and may still use it. */
  closeStore?: boolean;
}

const closeOptionsSchema = z.strictObject({
  timeoutMs: z.number().int().min(0).max(600_000).default(10_000),
  server: z
    .custom<ClosableServer>(
      (value) =>
        typeof value === 'object' &&
        value !== null &&
        ['close', 'closeIdleConnections', 'closeAllConnections'].every((m) => typeof (value as Record<string, unknown>)[m] === 'function'),
      'server must be a Node HTTP server (close, closeIdleConnections, closeAllConnections)',
    )
    .optional(),
  closeStore: z.boolean().default(false),
});

export type ResolvedCloseOptions = z.output<typeof closeOptionsSchema>;

/** Validates `bff.close()`'s options (TypeError on bad ones, before anything is closed). */
export function resolveCloseOptions(input: CloseOptions = {}): ResolvedCloseOptions {
  const parsed = closeOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) =>
      i.code === 'unrecognized_keys' ? `unknown option ${i.keys.join(', ')}` : `${i.path.join('.')}: ${i.message}`,
    );
    throw new TypeError(`Invalid bff.close() options: ${detail.join('; ')}`);
  }
  return parsed.data;
}

/** While draining, idle keep-alive connections are closed this often (a response that finishes leaves its socket idle). */
const IDLE_SWEEP_MS = 50;

interface ShutdownParts extends ResolvedCloseOptions {
  logger: Logger;
  store: SessionStore;
  inFlight: InFlight;
  eventStreams: EventStreams;
  /** Stops the guard's revocation-log follower (the guard fails closed from then on). */
  stopFollowingLog: () => void;
}

/**
 * The graceful shutdown behind `bff.close()`. The guard keeps following the revocation log until the requests are
 * done (a request still in flight, or one that reaches a draining instance, is decided as usual); only then does it
 * stop, and the store is closed last, if asked. Without a server and with nothing in flight, everything but the store
 * stops before this returns.
 */
export async function shutdown(parts: ShutdownParts): Promise<void> {
  const { server, inFlight, logger } = parts;
  let serverClosed: Promise<void> | undefined;
  let sweep: NodeJS.Timeout | undefined;
  if (server) {
    serverClosed = new Promise((resolve) => void server.close(() => resolve()));
    server.closeIdleConnections();
    sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
  }
  const streams = parts.eventStreams.size;
  parts.eventStreams.close();
  if (server || inFlight.size > 0) {
    logger.info({ event: 'shutdown_started', inFlight: inFlight.size, eventStreams: streams, timeoutMs: parts.timeoutMs }, 'draining before shutdown');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), parts.timeoutMs)));
    const drained = Promise.all([inFlight.idle(), serverClosed]).then(() => true as const);
    const done = await Promise.race([drained, deadline]);
    clearTimeout(timer);
    clearInterval(sweep);
    if (!done) {
      logger.warn(
        { event: 'shutdown_deadline', inFlight: inFlight.size, timeoutMs: parts.timeoutMs },
        'requests still in flight at the shutdown deadline were cut',
      );
      server?.closeAllConnections();
    }
  }
  parts.stopFollowingLog();
  if (parts.closeStore) await parts.store.close();
}
