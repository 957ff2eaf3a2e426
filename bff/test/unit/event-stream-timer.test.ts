import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EventStreams, type EventStreamsOptions, type StreamSession } from '../../src/events/event-streams.js';
import { StreamedBody, type BodySink } from '../../src/http/exchange.js';
import { BffMetrics } from '../../src/observability/metrics.js';

/** The connection a stream's body is attached to: what was written, and whether it ended (ending closes it, as Node's does). */
class FakeResponse implements BodySink {
  readonly chunks: string[] = [];
  ended = false;
  readonly queuedBytes = 0;
  constructor(private readonly body: StreamedBody) {}
  write(text: string) {
    this.chunks.push(text);
  }
  end() {
    if (this.ended) return;
    this.ended = true;
    this.body.clientGone();
  }
  destroy() {
    this.end();
  }
  text() {
    return this.chunks.join('');
  }
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/**
 * The timer that ends a stream at its session's end, on fake timers (Date moves with them, and the streams' clock is
 * Date.now): time passes without sleeping, and "not yet" is a fact about fake time, not a race.
 */
describe('an event stream’s end timer', () => {
  let streams: EventStreams;
  let lookup: ReturnType<typeof vi.fn<EventStreamsOptions['lookup']>>;

  beforeEach(() => {
    vi.useFakeTimers();
    lookup = vi.fn<EventStreamsOptions['lookup']>();
    streams = new EventStreams({
      maxPerUser: 10,
      maxPerDevice: 3,
      maxPerProcess: 100,
      heartbeatMs: 2 ** 31 - 1, // (about 24.8 days) the timer, not a heartbeat, ends the stream within each test
      retryMs: 1000,
      logger: pino({ level: 'silent' }),
      metrics: new BffMetrics(),
      now: () => Date.now(),
      lookup,
    });
  });
  afterEach(() => {
    streams.close();
    vi.useRealTimers();
  });

  function open(ends: { idleInMs: number; absoluteInMs: number }): { res: FakeResponse; session: StreamSession } {
    const now = Date.now();
    const session: StreamSession = {
      key: 'private-key',
      sid: 'sid-1',
      userId: 'user-alice',
      createdAt: now,
      idleExpiresAt: now + ends.idleInMs,
      absoluteExpiresAt: now + ends.absoluteInMs,
    };
    const body = new StreamedBody();
    const res = new FakeResponse(body);
    streams.open(body, session);
    body.attach(res);
    return { res, session };
  }

  it('fires at the idle end, asks the store, waits for the end activity moved it to, then ends with session_expired', async () => {
    const { res, session } = open({ idleInMs: 10 * MINUTE, absoluteInMs: 60 * MINUTE });
    lookup.mockResolvedValueOnce({ sid: session.sid, idleExpiresAt: session.idleExpiresAt + 5 * MINUTE, absoluteExpiresAt: session.absoluteExpiresAt });
    lookup.mockResolvedValueOnce(null);

    await vi.advanceTimersByTimeAsync(10 * MINUTE - 1);
    expect(lookup).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(lookup).toHaveBeenCalledExactlyOnceWith('private-key');
    expect(res.ended).toBe(false);

    await vi.advanceTimersByTimeAsync(5 * MINUTE - 1);
    expect(lookup).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(lookup).toHaveBeenCalledTimes(2);
    expect(res.ended).toBe(true);
    expect(res.text()).toContain(`event: session_ended\ndata: {"sid":"${session.sid}","reason":"session_expired"}\n\n`);
    expect(streams.size).toBe(0);
  });

  it('ends at the absolute end without asking the store, also beyond the longest single timer (about 24.8 days)', async () => {
    const { res, session } = open({ idleInMs: 30 * DAY, absoluteInMs: 30 * DAY });
    await vi.advanceTimersByTimeAsync(30 * DAY - 1000);
    expect(res.ended).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(res.ended).toBe(true);
    expect(res.text()).toContain(`"sid":"${session.sid}","reason":"session_expired"`);
    expect(lookup).not.toHaveBeenCalled();
  });

  it('a store that cannot answer ends the stream without a verdict (the browser reconnects and the connect checks)', async () => {
    const { res } = open({ idleInMs: MINUTE, absoluteInMs: 60 * MINUTE });
    lookup.mockRejectedValueOnce(new Error('store down'));
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(res.ended).toBe(true);
    expect(res.text()).not.toContain('session_ended');
    expect(streams.size).toBe(0);
  });

  it('a stream that closes first leaves no timer behind', async () => {
    const { res } = open({ idleInMs: MINUTE, absoluteInMs: 60 * MINUTE });
    res.end();
    expect(vi.getTimerCount()).toBe(1); // the heartbeat only
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(lookup).not.toHaveBeenCalled();
  });
});
