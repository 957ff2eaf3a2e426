import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { createBff, MemoryStore, RedisStore, type Bff, type BffOptions, type SessionStore } from '@latchkey/bff';
import { createDemoAuthenticate, DEMO_ACCOUNTS } from './accounts.js';
import type { DemoConfig } from './config.js';

export interface DemoApp {
  app: Express;
  bff: Bff;
  store: SessionStore;
  close(): Promise<void>;
}

const WEB_DIST = fileURLToPath(new URL('../web/dist', import.meta.url));

const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>Latchkey demo</title>
<p>The demo page is not built. Run <code>npm run build</code> and reload.</p>`;

/**
 * The demo application: the BFF at /auth, a protected /api/me, /api/admin (scope `admin`), a public /api/public,
 * /metrics, and the page at /.
 * `port` is the port the server will listen on; the issuer defaults to http://localhost:<port>.
 */
export async function createDemoApp(config: DemoConfig & { port: number }, logger?: Logger): Promise<DemoApp> {
  const waitForReplicas = config.redisWaitReplicas > 0 ? { waitForReplicas: { replicas: config.redisWaitReplicas, timeoutMs: 100 } } : {};
  const store: SessionStore = config.redisClusterNodes
    ? await RedisStore.connect({ clusterNodes: config.redisClusterNodes, ...waitForReplicas })
    : config.redisUrl
      ? await RedisStore.connect({ url: config.redisUrl, ...waitForReplicas })
      : new MemoryStore();
  const issuer = config.issuer ?? `http://localhost:${config.port}`;
  const bff = await createBff({
    store,
    secrets: [config.secret],
    authenticate: await createDemoAuthenticate(),
    issuer,
    accessTokenTtlSeconds: config.accessTtlSeconds,
    // The seeds: admin routes fail closed while the store is unreachable; read-only ones stay up for 30 s.
    scopePolicies: { admin: { onStoreUnavailable: 'closed' }, 'profile:read': { onStoreUnavailable: 'open', maxStalenessMs: 30_000 } },
    ...(config.allowedOrigins ? { allowedOrigins: [new URL(issuer).origin, ...config.allowedOrigins] } : {}),
    ...(config.rateLimits !== undefined ? { rateLimit: config.rateLimits as BffOptions['rateLimit'] } : {}),
    ...(logger ? { logger } : {}),
  });

  const names = new Map(DEMO_ACCOUNTS.map((a) => [a.id, a.name]));
  const registry = Registry.merge([bff.metrics.registry, new Registry()]);
  collectDefaultMetrics({ register: registry, prefix: 'demo_' });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use('/auth', bff.router);
  app.get('/api/public', (_req, res) => {
    res.json({ message: 'Anyone can read this.', time: new Date().toISOString() });
  });
  app.get('/api/me', bff.requireAuth(), (req, res) => {
    const auth = req.auth!;
    res.set('Cache-Control', 'no-store');
    res.json({ sub: auth.sub, sid: auth.sid, name: names.get(auth.sub) ?? auth.sub, scope: auth.scope ?? '' });
  });
  app.get('/api/admin', bff.requireAuth({ scopes: ['admin'] }), (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json({ message: 'Only tokens with the admin scope get here.', sub: req.auth!.sub });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  if (existsSync(WEB_DIST)) {
    app.use(express.static(WEB_DIST, { index: 'index.html' }));
  } else {
    app.get('/', (_req, res) => void res.type('html').send(PLACEHOLDER));
  }
  app.use('/api', (_req, res) => void res.status(404).json({ error: 'not_found', message: 'Not found.' }));
  app.use(bff.errorHandler);

  return {
    app,
    bff,
    store,
    close: async () => {
      bff.close();
      await store.close();
    },
  };
}
