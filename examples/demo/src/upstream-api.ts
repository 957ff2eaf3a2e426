import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { WebSocketServer } from 'ws';
import type { Guard } from '@latchkey/bff';

/** How often /api/ticks sends a tick. */
const TICK_MS = 500;

export interface UpstreamApi {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  close(): Promise<void>;
}

/**
 * The demo's upstream API in proxy mode (LATCHKEY_DEMO_PROXY=true): a server of its own on its own port, as an API
 * behind a BFF would be. It knows nothing of cookies: it verifies the Latchkey access token the proxy attaches with
 * the guard (signature, claims, revocation), like any resource server. Listens on loopback only: the page reaches it
 * through the BFF's proxy, never directly.
 */
export async function startUpstreamApi(guard: Guard, names: ReadonlyMap<string, string>, port: number): Promise<UpstreamApi> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/api/me', guard.requireAuth(), (req, res) => {
    const auth = req.auth!;
    res.set('Cache-Control', 'no-store');
    res.json({ sub: auth.sub, sid: auth.sid, name: names.get(auth.sub) ?? auth.sub, scope: auth.scope ?? '', via: 'proxy' });
  });
  app.get('/api/admin', guard.requireAuth({ scopes: ['admin'] }), (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json({ message: 'Only tokens with the admin scope get here.', sub: req.auth!.sub, via: 'proxy' });
  });
  // A live feed, as server-sent events: one tick every TICK_MS, for as long as the client stays (the proxy streams it).
  app.get('/api/ticks', guard.requireAuth(), (req, res) => {
    res.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' }).flushHeaders();
    let n = 0;
    const send = () => void res.write(`id: ${++n}\ndata: ${JSON.stringify({ tick: n, sub: req.auth!.sub })}\n\n`);
    send();
    const timer = setInterval(send, TICK_MS);
    req.on('close', () => clearInterval(timer));
  });
  app.use((_req, res) => void res.status(404).json({ error: 'not_found', message: 'Not found.' }));
  // The guard's 401/403/503, as `{ error, message }` with WWW-Authenticate.
  app.use(((error, _req, res, next) => {
    const status = (error as { status?: number }).status;
    if (typeof status !== 'number') return next(error);
    const headers = (error as { headers?: Record<string, string> }).headers ?? {};
    res
      .status(status)
      .set(headers)
      .json({ error: (error as { code?: string }).code ?? 'internal_error', message: (error as Error).message });
  }) as express.ErrorRequestHandler);
  const server: Server = createServer(app);
  // The same feed as a WebSocket (the proxy forwards the upgrade with the token attached): ticks, and an echo of what
  // the page sends. The token is verified on the upgrade, as any resource server would.
  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    if (!req.url?.startsWith('/api/ticks')) return void socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    void guard.authorize(req.headers.authorization).then((auth) => {
      if (!auth.ok) return void socket.end(`HTTP/1.1 ${auth.error.status} Unauthorized\r\nConnection: close\r\n\r\n`);
      sockets.handleUpgrade(req, socket, head, (ws) => {
        let n = 0;
        const tick = () => ws.send(JSON.stringify({ tick: ++n, sub: auth.claims.sub }));
        tick();
        const timer = setInterval(tick, TICK_MS);
        ws.on('message', (data) => ws.send(JSON.stringify({ echo: String(data), sub: auth.claims.sub })));
        ws.on('close', () => clearInterval(timer));
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        for (const ws of sockets.clients) ws.terminate();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
