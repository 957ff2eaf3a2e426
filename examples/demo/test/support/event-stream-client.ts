/**
 * A `GET /auth/events` client that reconnects as a browser's EventSource does with @latchkey/client/live: after a
 * stream the server ended, it waits the last `retry:` delay and connects again; after a refused connection (503, 429)
 * or a network error, it waits a short backoff and tries again. Every connection and event is recorded.
 */
import { request, type ClientRequest } from 'node:http';

export interface StreamConnection {
  /** When the answer's headers arrived (or the attempt failed). */
  at: number;
  /** The HTTP status, or `network_error`. */
  status: number | 'network_error';
  /** When the stream ended (0 while open). */
  endedAt: number;
}

export interface ReceivedEvent {
  event: string;
  data: string;
  at: number;
}

/** Between refused attempts, as the client's backoff (backoffMinMs) starts. */
const REFUSED_BACKOFF_MS = 500;

export class ReconnectingEventStream {
  readonly connections: StreamConnection[] = [];
  readonly events: ReceivedEvent[] = [];
  retryMs = 2000;
  private current: ClientRequest | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly cookie: string,
  ) {}

  start(): this {
    this.connect();
    return this;
  }

  /** The connection open now (a 200 whose stream has not ended), if any. */
  get open(): StreamConnection | undefined {
    const last = this.connections.at(-1);
    return last && last.status === 200 && last.endedAt === 0 ? last : undefined;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.current?.destroy();
  }

  private again(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.connect(), delayMs);
  }

  private connect(): void {
    if (this.stopped) return;
    const connection: StreamConnection = { at: 0, status: 'network_error', endedAt: 0 };
    const req = request(`${this.url}/auth/events`, { headers: { Accept: 'text/event-stream', Cookie: this.cookie } }, (res) => {
      connection.at = Date.now();
      connection.status = res.statusCode ?? 0;
      this.connections.push(connection);
      res.setEncoding('utf8');
      let pending = '';
      res.on('data', (chunk: string) => {
        pending += chunk;
        let cut: number;
        while ((cut = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, cut);
          pending = pending.slice(cut + 2);
          const retry = /^retry: (\d+)$/m.exec(block)?.[1];
          if (retry !== undefined) this.retryMs = Number(retry);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          if (event !== undefined) this.events.push({ event, data: /^data: (.*)$/m.exec(block)?.[1] ?? '', at: Date.now() });
        }
      });
      const ended = () => {
        if (connection.endedAt !== 0) return;
        connection.endedAt = Date.now();
        this.again(connection.status === 200 ? this.retryMs : REFUSED_BACKOFF_MS);
      };
      res.on('end', ended);
      res.on('error', ended);
      res.on('close', ended);
    });
    req.on('error', () => {
      if (connection.at !== 0) return;
      connection.at = connection.endedAt = Date.now();
      this.connections.push(connection);
      this.again(REFUSED_BACKOFF_MS);
    });
    this.current = req;
    req.end();
  }
}
