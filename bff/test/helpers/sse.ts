import { request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Express } from 'express';

export interface SseEvent {
  event: string;
  data: string;
}

/** One open `GET /auth/events` as a test reads it: status, headers, every parsed event, comments, and whether it ended. */
export interface SseConnection {
  status: number;
  headers: IncomingHttpHeaders;
  /** The raw text received so far. */
  text(): string;
  events: SseEvent[];
  comments: number;
  ended: boolean;
  /** The JSON body of a refused connection. */
  body(): unknown;
  /** Resolves once `predicate` holds on what arrived (or rejects after `timeoutMs`: a test failure, not a timing assertion). */
  until(predicate: (c: SseConnection) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Listens on a free loopback port; stop() closes every connection. */
export async function listen(app: Express): Promise<{ url: string; server: Server; stop(): Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function openEvents(baseUrl: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    let raw = '';
    const listeners = new Set<() => void>();
    const req = request(`${baseUrl}/auth/events`, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      res.setEncoding('utf8');
      const connection: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => raw,
        events: [],
        comments: 0,
        ended: false,
        body: () => JSON.parse(raw),
        until(predicate, timeoutMs = 5000) {
          return new Promise((ok, fail) => {
            const check = () => {
              if (!predicate(connection)) return;
              clearTimeout(timer);
              listeners.delete(check);
              ok();
            };
            const timer = setTimeout(() => {
              listeners.delete(check);
              fail(new Error(`condition not met; stream so far: ${JSON.stringify(raw)}`));
            }, timeoutMs);
            listeners.add(check);
            check();
          });
        },
        close: () => req.destroy(),
      };
      let pending = '';
      res.on('data', (chunk: string) => {
        raw += chunk;
        pending += chunk;
        let cut: number;
        while ((cut = pending.indexOf('\n\n')) >= 0) {
          const block = pending.slice(0, cut);
          pending = pending.slice(cut + 2);
          if (block.startsWith(':')) connection.comments++;
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined) connection.events.push({ event, data: data ?? '' });
        }
        for (const check of [...listeners]) check();
      });
      res.on('end', () => {
        connection.ended = true;
        for (const check of [...listeners]) check();
      });
      res.on('error', () => undefined);
      resolve(connection);
    });
    req.on('error', reject);
    req.end();
  });
}
