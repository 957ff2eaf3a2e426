import type { Logger } from 'pino';
import { sessionEndedReasonOf } from '@latchkey/shared';
import type { DevicesChangedData, ReconnectData, SessionEndedData, SessionEndedReason, StreamEventName } from '@latchkey/shared';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { StreamedBody } from '../http/exchange.js';
import type { BffMetrics } from '../observability/metrics.js';
import type { RevocationEvent } from '../store/revocation-feed.js';

export interface EventStreamsOptions {
  maxPerUser: number;
  /** Open streams per device session: one device cannot take the user's whole `maxPerUser`. */
  maxPerDevice: number;
  maxPerProcess: number;
  heartbeatMs: number;
  retryMs: number;
  logger: Logger;
  metrics: BffMetrics;
  /** Epoch ms (the BFF's clock): what the session's idle and absolute ends are compared with. */
  now: () => number;
  /** The live session with this private key (null when it ended or expired): asked when a stream reaches its session's end. */
  lookup: (key: string) => Promise<Pick<StreamSession, 'sid' | 'idleExpiresAt' | 'absoluteExpiresAt'> | null>;
}

/** The device session a stream belongs to. */
export interface StreamSession {
  /** The session's private key: only to ask the store whether it still lives (never written to the stream). */
  key: string;
  sid: string;
  userId: string;
  createdAt: number;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
}

interface OpenStream {
  key: string;
  sid: string;
  userId: string;
  createdAt: number;
  /** The session's end as last known: the earlier of its idle and absolute ends (activity moves the idle one). */
  endsAt: number;
  absoluteExpiresAt: number;
  /** Fires at `endsAt` (or earlier, for ends beyond what one timer can wait). */
  timer?: NodeJS.Timeout;
  /** A store read about the session's end is under way. */
  checking: boolean;
  body: StreamedBody;
}

/** The stream's answer headers: kept from proxies' buffers and caches. */
export const EVENT_STREAM_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['Content-Type', 'text/event-stream; charset=utf-8'],
  // no-transform: a compressing proxy would hold events back until its buffer fills.
  ['Cache-Control', 'no-store, no-transform'],
  ['X-Accel-Buffering', 'no'],
];

/** The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A client that reads nothing while this much is queued is gone or hostile: drop it (memory stays bounded). */
const MAX_QUEUED_BYTES = 64 * 1024;

/** Seconds a refused client should wait before it tries again. */
export const RETRY_AFTER_SECONDS = '5';

/**
 * This process's open `GET /events` streams, indexed by session and by user, fed by the one revocation-log follower
 * the process already runs (the guard's view): an event is fanned out in memory to the streams it concerns, so a
 * thousand streams cost no Redis connection of their own. One timer writes every stream's heartbeat.
 *
 * A stream ends with its session: a timer to the earlier of the session's idle and absolute ends, and the same
 * check (on the BFF's clock) before every event and on every heartbeat. At the idle end the store is asked again,
 * since activity (a refresh, on any instance) moves it; the stream then waits for the new end.
 */
export class EventStreams {
  private readonly bySid = new Map<string, Set<OpenStream>>();
  private readonly byUser = new Map<string, Set<OpenStream>>();
  private count = 0;
  private closed = false;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly options: EventStreamsOptions) {
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs);
    this.heartbeat.unref();
    options.metrics.openEventStreams = () => this.count;
  }

  get size(): number {
    return this.count;
  }

  /** Throws the refusal when this process cannot take another stream (checked before authenticating, it costs nothing). */
  assertProcessRoom(): void {
    if (this.closed) throw this.refuse('closing', 'temporarily_unavailable', 'The server is shutting down.');
    if (this.count >= this.options.maxPerProcess) {
      throw this.refuse('process', 'temporarily_unavailable', 'This server has no room for another event stream.');
    }
  }

  /**
   * Starts the stream for an authenticated session on `body` (the answer the route sends with EVENT_STREAM_HEADERS):
   * the reconnect delay, then registration. Throws the refusal (before anything is written) when a cap is reached.
   */
  open(body: StreamedBody, session: StreamSession): void {
    // The client may have gone while its session was being checked: never register it.
    if (body.closed) return;
    this.assertProcessRoom();
    if ((this.bySid.get(session.sid)?.size ?? 0) >= this.options.maxPerDevice) {
      throw this.refuse('device', 'too_many_connections', 'Too many open event streams for this device. Try again later.');
    }
    if ((this.byUser.get(session.userId)?.size ?? 0) >= this.options.maxPerUser) {
      throw this.refuse('user', 'too_many_connections');
    }
    const stream: OpenStream = {
      key: session.key,
      sid: session.sid,
      userId: session.userId,
      createdAt: session.createdAt,
      endsAt: Math.min(session.idleExpiresAt, session.absoluteExpiresAt),
      absoluteExpiresAt: session.absoluteExpiresAt,
      checking: false,
      body,
    };
    body.write(`retry: ${this.options.retryMs}\n\n`);
    add(this.bySid, stream.sid, stream);
    add(this.byUser, stream.userId, stream);
    this.count++;
    body.onClientGone(() => this.remove(stream));
    this.arm(stream);
  }

  /** Tells one session's streams that it ended, and closes them. */
  endSession(sid: string, reason: SessionEndedReason): void {
    for (const stream of [...(this.bySid.get(sid) ?? [])]) this.sendEnded(stream, reason);
  }

  /** Fans one log event out to the streams it concerns. */
  dispatch(event: RevocationEvent): void {
    if (event.kind === 'sid') {
      this.endSession(event.id, event.reason === undefined ? 'session_revoked' : sessionEndedReasonOf(event.reason));
      if (event.userId !== undefined) this.devicesChanged(event.userId, { sid: event.id, change: 'ended' });
    } else if (event.kind === 'session') {
      this.devicesChanged(event.userId, { sid: event.id, change: 'started' });
    } else if (event.kind === 'user') {
      // revoked_after: every session that started before it is over (its sid events normally got there first).
      for (const stream of [...(this.byUser.get(event.id) ?? [])]) {
        if (stream.createdAt < event.revokedAfter) this.sendEnded(stream, 'logout_all');
      }
    } else if (event.kind === 'all') {
      // Every session that started before it is over (revokeAllSessions; its sid events normally got there first).
      for (const streams of [...this.bySid.values()]) {
        for (const stream of [...streams]) if (stream.createdAt < event.revokedAfter) this.sendEnded(stream, 'session_revoked');
      }
    }
  }

  /**
   * Ends every stream (the BFF is closing) with a reconnect hint: a new `retry:`, the configured delay plus up to as
   * much again (so the browsers of a closing instance do not all reconnect in the same instant), and a last
   * `reconnect` event. Later connections are refused (503): a load balancer sends the browser's retry elsewhere.
   */
  close(): void {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const streams of [...this.bySid.values()]) {
      for (const stream of [...streams]) {
        const retryMs = this.options.retryMs + Math.floor(Math.random() * this.options.retryMs);
        const data: ReconnectData = { retryMs };
        this.send(stream, `retry: ${retryMs}\n`);
        this.write(stream, 'reconnect', data);
        this.remove(stream);
        stream.body.end();
      }
    }
  }

  private devicesChanged(userId: string, data: DevicesChangedData): void {
    // A stream whose session has reached its end hears nothing more of the user's devices.
    for (const stream of [...(this.byUser.get(userId) ?? [])]) if (this.live(stream)) this.write(stream, 'devices_changed', data);
  }

  /** Whether the stream's session is within its last known end; past it, starts the check that ends (or extends) it. */
  private live(stream: OpenStream): boolean {
    if (this.options.now() < stream.endsAt) return true;
    this.checkEnd(stream);
    return false;
  }

  /** Waits for the session's end: a timer, on the BFF's clock (re-armed when it fires early, as a long end needs). */
  private arm(stream: OpenStream): void {
    clearTimeout(stream.timer);
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, stream.endsAt - this.options.now()));
    stream.timer = setTimeout(() => (this.live(stream) ? this.arm(stream) : undefined), delay);
    stream.timer.unref();
  }

  /**
   * The session reached its last known end. Past the absolute end it is over; at the idle end, the store says whether
   * activity moved it (then the stream waits for the new end) or the session is gone. A store that cannot answer ends
   * the stream without a verdict: the browser reconnects, and the connect checks the session.
   */
  private checkEnd(stream: OpenStream): void {
    if (stream.checking || !this.bySid.get(stream.sid)?.has(stream)) return;
    if (this.options.now() >= stream.absoluteExpiresAt) return this.sendEnded(stream, 'session_expired');
    stream.checking = true;
    this.options.lookup(stream.key).then(
      (session) => {
        stream.checking = false;
        if (!this.bySid.get(stream.sid)?.has(stream)) return;
        if (session === null || session.sid !== stream.sid) return this.sendEnded(stream, 'session_expired');
        stream.endsAt = Math.min(session.idleExpiresAt, session.absoluteExpiresAt);
        // Past it on this clock, though the store's (Redis's own) still has it live: over, never a loop of reads.
        if (this.options.now() >= stream.endsAt) return this.sendEnded(stream, 'session_expired');
        this.arm(stream);
      },
      () => {
        stream.checking = false;
        this.remove(stream);
        stream.body.end();
      },
    );
  }

  private sendEnded(stream: OpenStream, reason: SessionEndedReason): void {
    const data: SessionEndedData = { sid: stream.sid, reason };
    this.write(stream, 'session_ended', data);
    this.remove(stream);
    stream.body.end();
  }

  private write(stream: OpenStream, event: StreamEventName, data: object): void {
    this.options.metrics.streamEvents.inc({ event });
    this.send(stream, `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private send(stream: OpenStream, text: string): void {
    if (stream.body.queuedBytes > MAX_QUEUED_BYTES) {
      this.options.logger.warn({ event: 'event_stream_dropped', userId: stream.userId, sid: stream.sid }, 'event stream dropped: the client reads nothing');
      this.remove(stream);
      stream.body.destroy();
      return;
    }
    stream.body.write(text);
  }

  private beat(): void {
    for (const streams of [...this.bySid.values()]) for (const stream of [...streams]) if (this.live(stream)) this.send(stream, ':\n\n');
  }

  private remove(stream: OpenStream): void {
    if (!drop(this.bySid, stream.sid, stream)) return;
    clearTimeout(stream.timer);
    drop(this.byUser, stream.userId, stream);
    this.count--;
  }

  private refuse(reason: 'closing' | 'process' | 'user' | 'device', code: 'temporarily_unavailable' | 'too_many_connections', message?: string) {
    this.options.metrics.eventStreamsRefused.inc({ reason });
    return new LatchkeyError(code, message, { headers: { 'Retry-After': RETRY_AFTER_SECONDS } });
  }
}

function add(index: Map<string, Set<OpenStream>>, id: string, stream: OpenStream): void {
  let set = index.get(id);
  if (!set) index.set(id, (set = new Set()));
  set.add(stream);
}

/** Removes the stream from its set; false when it was not there (already removed). */
function drop(index: Map<string, Set<OpenStream>>, id: string, stream: OpenStream): boolean {
  const set = index.get(id);
  if (!set?.delete(stream)) return false;
  if (set.size === 0) index.delete(id);
  return true;
}
