import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Guard } from '@latchkey/bff';

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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
