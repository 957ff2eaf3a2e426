import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { adminConsole } from '@latchkey/admin-console';
import { createBff, MemoryStore, RedisStore, type Bff, type BffOptions, type OidcOptions, type SessionStore } from '@latchkey/bff';
import { createDemoAuthenticate, DEMO_ACCOUNTS } from './accounts.js';
import { demoAllowedOrigins, type DemoConfig } from './config.js';
import type { DevIdp } from './dev-idp.js';
import { DEV_IDP_API_CLIENT_ID, DEV_IDP_API_CLIENT_SECRET, DEV_IDP_CLIENT_ID, DEV_IDP_CLIENT_SECRET } from './dev-idp-client.js';
import { createDemoMapUser } from './map-user.js';
import { requireMetricsToken } from './metrics-token.js';
import { securityHeaders } from './security-headers.js';
import { startUpstreamApi, type UpstreamApi } from './upstream-api.js';
import { ssrPages } from './ssr/ssr-routes.js';

/** Where the bundled development IdP is mounted (LATCHKEY_DEMO_IDP=true). */
export const DEV_IDP_PATH = '/idp';
/** Proxy mode with the development IdP: the upstream API that takes the IdP's access tokens (`token: 'idp'`). */
export const IDP_API_PATH = '/api/idp-profile';

export interface DemoApp {
  app: Express;
  bff: Bff;
  store: SessionStore;
  /**
   * Graceful shutdown: with the listening `server`, it stops accepting connections and lets the requests in flight
   * finish (up to `timeoutMs`); event streams end with a reconnect hint; then the store the demo made is closed.
   */
  close(options?: { server?: Server; timeoutMs?: number }): Promise<void>;
  /** For the server's `upgrade` event: WebSockets through the proxy (LATCHKEY_DEMO_PROXY: /api/ticks); others are closed. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

const WEB_DIST = fileURLToPath(new URL('../web/dist', import.meta.url));

const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>Latchkey demo</title>
<p>The demo page is not built. Run <code>npm run build</code> and reload.</p>`;

/**
 * The demo application: the BFF at /auth, a protected /api/me, /api/admin (scope `admin`), the admin API at /admin
 * (scope `latchkey:admin`; keys `latchkey:keys`) and its operators' console at /admin-console, a public /api/public,
 * /metrics (behind a bearer token: LATCHKEY_METRICS_TOKEN, or one made for the run), and the page at /, every answer with the security headers of
 * securityHeaders().
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
  // Built while the BFF starts (loading oidc-provider and making its key take a moment); awaited before serving.
  const devIdpReady = config.demoIdp ? createDemoIdp(config.port, issuer) : undefined;
  devIdpReady?.catch(() => undefined);
  const oidc = oidcOptions(config, issuer);
  const bff = await createBff({
    ...(oidc ? { oidc } : {}),
    store,
    secrets: [config.secret],
    authenticate: await createDemoAuthenticate(),
    // Proxy mode: no token ever reaches the page, not even from login or refresh.
    tokens: { issuer, ttlSeconds: config.accessTtlSeconds, ...(config.proxy ? { browser: false } : {}) },
    session: {
      ...(config.proxyRotationSeconds !== undefined ? { proxyRotationSeconds: config.proxyRotationSeconds } : {}),
      ...(config.rotationGraceSeconds !== undefined ? { rotationGraceSeconds: config.rotationGraceSeconds } : {}),
      ...(config.idleTimeoutSeconds !== undefined ? { idleTimeoutSeconds: config.idleTimeoutSeconds } : {}),
    },
    // The seeds: admin routes fail closed while the store is unreachable; read-only ones stay up for 30 s.
    scopePolicies: { admin: { onStoreUnavailable: 'closed' }, 'profile:read': { onStoreUnavailable: 'open', maxStalenessMs: 30_000 } },
    eventStreams: { maxPerUser: config.eventStreamsPerUser, maxPerDevice: config.eventStreamsPerDevice, maxPerProcess: config.eventStreamsMax },
    origins: { allowed: demoAllowedOrigins(config) },
    ...(config.rateLimits !== undefined ? { rateLimit: config.rateLimits as BffOptions['rateLimit'] } : {}),
    resourceClients: config.introspectionClients,
    ...(logger ? { logger } : {}),
  });

  const names = new Map(DEMO_ACCOUNTS.map((a) => [a.id, a.name]));
  const registry = Registry.merge([bff.metrics.registry, new Registry()]);
  collectDefaultMetrics({ register: registry, prefix: 'demo_' });

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  // The development IdP stands in for a provider on its own origin, with its own pages and headers: mounted before
  // the page's security headers, which are not its to wear.
  const devIdp = await devIdpReady;
  if (devIdp) app.use(DEV_IDP_PATH, devIdp.app);
  app.use(securityHeaders());
  app.use('/auth', bff.router);
  // The page asks whether to offer "Sign in with the identity provider".
  app.get('/api/config', (_req, res) => void res.json({ oidc: oidc !== undefined, proxy: config.proxy !== undefined }));
  app.get('/api/public', (_req, res) => {
    res.json({ message: 'Anyone can read this.', time: new Date().toISOString() });
  });
  // Proxy mode: /api/me and /api/admin live on the upstream API server; the page reaches them only through the proxy.
  // The bundled development IdP (this process's, or another demo process's it signs in through) lets the upstream
  // introspect its tokens: then the page gets an API that takes the IdP's own access tokens.
  const demoProvider = oidc?.providers.idp;
  const devIdpIssuer = demoProvider && 'issuer' in demoProvider && demoProvider.clientId === DEV_IDP_CLIENT_ID ? demoProvider.issuer : undefined;
  const upstream = config.proxy ? await startProxyUpstream(bff, names, config.proxy, devIdpIssuer) : undefined;
  let upgrades: DemoApp['upgrade'] | undefined;
  if (upstream) {
    app.use('/api/me', bff.proxy({ target: `${upstream.url}/api/me`, token: 'latchkey', methods: ['GET'] }));
    app.use(
      '/api/admin',
      bff.proxy({ target: `${upstream.url}/api/admin`, token: 'latchkey', methods: ['GET'], maxAuthAgeSeconds: config.adminMaxAuthAgeSeconds }),
    );
    // A live feed: server-sent events (GET) and a WebSocket (the upgrade: server.ts wires demo.upgrade).
    const ticks = bff.proxy({ target: `${upstream.url}/api/ticks`, token: 'latchkey', methods: ['GET'], webSocket: true });
    app.use('/api/ticks', ticks);
    upgrades = bff.upgrades({ '/api/ticks': ticks });
    // With the development IdP: an API that takes the IdP's own access tokens, attached (and renewed) by the BFF.
    if (devIdpIssuer) app.use(IDP_API_PATH, bff.proxy({ target: `${upstream.url}${IDP_API_PATH}`, token: 'idp', methods: ['GET'] }));
  }
  app.get('/api/me', bff.requireAuth(), (req, res) => {
    const auth = req.auth!;
    res.set('Cache-Control', 'no-store');
    res.json({ sub: auth.sub, sid: auth.sid, name: names.get(auth.sub) ?? auth.sub, scope: auth.scope ?? '' });
  });
  // The server-rendered page (docs/ssr.md): its server-side data is /api/me, called with the session's own access token.
  app.use(
    ssrPages(bff, async (req) => {
      const token = await bff.getAccessToken(req);
      if (token === null) return null;
      const res = await fetch(`http://127.0.0.1:${req.socket.localPort}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
      return res.ok ? ((await res.json()) as { sub: string; sid: string; name: string }) : null;
    }),
  );
  // Step-up (RFC 9470): an admin call wants a recent authentication; the page asks for the password again and retries.
  app.get('/api/admin', bff.requireAuth({ scopes: ['admin'], maxAuthAgeSeconds: config.adminMaxAuthAgeSeconds }), (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json({ message: 'Only tokens with the admin scope get here.', sub: req.auth!.sub });
  });
  // The admin HTTP API (docs/admin.md) for tokens with its dedicated scope `latchkey:admin` (the keys also need
  // `latchkey:keys`), never the application's `admin`: alice holds both and may revoke users and rotate keys.
  app.use('/admin', bff.adminRouter({ maxAuthAgeSeconds: config.adminMaxAuthAgeSeconds }));
  // The operators' console (docs/admin.md): a page like / (same security headers, set above), over the admin router.
  app.use('/admin-console', adminConsole({ bffPath: '/auth', adminPath: '/admin' }));
  app.get('/metrics', requireMetricsToken(config.metricsToken), async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  if (existsSync(WEB_DIST)) {
    // Proxy mode: the page learns it from its own HTML, before its session client starts.
    if (config.proxy) app.get(['/', '/index.html'], (_req, res) => void res.type('html').send(proxyModePage(devIdpIssuer !== undefined)));
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
    upgrade: upgrades ?? ((_req, socket) => void socket.destroy()),
    // The demo made the store (and the upstream API of proxy mode), so it closes them too, once the requests are done.
    close: async (options = {}) => {
      await bff.close({ ...options, closeStore: true });
      await upstream?.close();
    },
  };
}

/** The demo's own upstream API (or LATCHKEY_DEMO_UPSTREAM_URL's, which the demo does not run). */
async function startProxyUpstream(
  bff: Bff,
  names: ReadonlyMap<string, string>,
  proxy: NonNullable<DemoConfig['proxy']>,
  devIdpIssuer: string | undefined,
): Promise<UpstreamApi | undefined> {
  if (proxy.upstreamUrl !== undefined) return { url: proxy.upstreamUrl.replace(/\/$/, ''), close: async () => undefined };
  const idp =
    devIdpIssuer === undefined
      ? undefined
      : { url: `${devIdpIssuer}/token/introspection`, clientId: DEV_IDP_API_CLIENT_ID, clientSecret: DEV_IDP_API_CLIENT_SECRET };
  return startUpstreamApi(bff.guard, names, proxy.upstreamPort, idp);
}

let proxyPage: string | undefined;
/**
 * The built page with `<meta name="latchkey-mode" content="proxy">`: its session client starts in proxy mode. With the
 * development IdP, `<meta name="latchkey-idp-api">` offers the IdP-token API as well.
 */
function proxyModePage(idpApi: boolean): string {
  const metas = `<meta name="latchkey-mode" content="proxy">${idpApi ? `<meta name="latchkey-idp-api" content="${IDP_API_PATH}">` : ''}`;
  proxyPage ??= readFileSync(`${WEB_DIST}/index.html`, 'utf8').replace('<head>', `<head>${metas}`);
  return proxyPage;
}

function oidcOptions(config: DemoConfig, issuer: string): OidcOptions | undefined {
  const upstream = config.demoIdp
    ? { issuer: `http://localhost:${config.port}${DEV_IDP_PATH}`, clientId: DEV_IDP_CLIENT_ID, clientSecret: DEV_IDP_CLIENT_SECRET }
    : config.oidc;
  if (!upstream) return undefined;
  return {
    providers: {
      idp: {
        issuer: upstream.issuer,
        clientId: upstream.clientId,
        clientAuth: { method: 'client_secret_basic', secret: upstream.clientSecret },
        scopes: ['openid', 'profile', 'email', 'offline_access'],
        // The deployment's public URL (LATCHKEY_ISSUER): with several processes, the IdP returns to that one.
        redirectUri: `${issuer}/auth/oidc/callback`,
        postLogoutRedirectUri: `${issuer}/`,
        // The bundled IdP's users are the demo accounts; an external issuer's are its own (`${iss}|${sub}`).
        mapUser: createDemoMapUser(config.demoIdp ? upstream.issuer : undefined),
        // The bundled IdP and local development run on plain http.
        dangerouslyAllowInsecureIdpRequests: new URL(upstream.issuer).protocol === 'http:',
      },
    },
  };
}

/** Loaded only when asked for: oidc-provider is a development dependency of the demo, not of every start. */
async function createDemoIdp(port: number, issuer: string): Promise<DevIdp> {
  const { createDevIdp } = await import('./dev-idp.js');
  return createDevIdp({
    issuer: `http://localhost:${port}${DEV_IDP_PATH}`,
    accounts: DEMO_ACCOUNTS.map((a) => ({ username: a.username, password: a.password, sub: a.id, name: a.name, email: `${a.username}@example.com` })),
    clients: [
      {
        clientId: DEV_IDP_CLIENT_ID,
        clientSecret: DEV_IDP_CLIENT_SECRET,
        redirectUris: [`${issuer}/auth/oidc/callback`],
        postLogoutRedirectUris: [`${issuer}/`],
        backchannelLogoutUri: `${issuer}/auth/oidc/backchannel-logout`,
      },
    ],
    resourceServers: [{ clientId: DEV_IDP_API_CLIENT_ID, clientSecret: DEV_IDP_API_CLIENT_SECRET }],
  });
}
