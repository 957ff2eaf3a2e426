import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** The demo's environment (SPEC section 3). These names are a contract: external tests rely on them. */
const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** One Redis URL; with LATCHKEY_REDIS_CLUSTER, one or more Cluster nodes' URLs, comma-separated. */
  REDIS_URL: z
    .string()
    .refine((v) => v.split(',').every((url) => URL.canParse(url.trim())), 'REDIS_URL must be a URL (or comma-separated URLs)')
    .optional(),
  /** `true`: REDIS_URL names nodes of a Redis Cluster (one reachable node is enough; the rest are discovered). */
  LATCHKEY_REDIS_CLUSTER: z.enum(['true', 'false', '1', '0']).default('false'),
  /** Replicas that must acknowledge every write (Redis WAIT, 100 ms) before the BFF answers; 0: off. */
  LATCHKEY_REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(5).default(0),
  LATCHKEY_SECRET: z.string().min(32, 'LATCHKEY_SECRET must be at least 32 characters').optional(),
  LATCHKEY_ACCESS_TTL: z.coerce.number().int().positive().max(3600).default(300),
  LATCHKEY_ISSUER: z.string().url().optional(),
  /** Open `GET /auth/events` streams allowed per user, per device session, and in this process (the BFF's `eventStreams` caps). */
  LATCHKEY_EVENT_STREAMS_PER_USER: z.coerce.number().int().positive().default(10),
  LATCHKEY_EVENT_STREAMS_PER_DEVICE: z.coerce.number().int().positive().default(3),
  LATCHKEY_EVENT_STREAMS_MAX: z.coerce.number().int().positive().default(10_000),
  /** Extra origins allowed to call /auth, comma-separated (for a page served from another port in development). */
  LATCHKEY_ALLOWED_ORIGINS: z
    .string()
    .refine((v) => v.split(',').every((o) => !o.trim() || URL.canParse(o.trim())), 'LATCHKEY_ALLOWED_ORIGINS must be comma-separated URLs')
    .optional(),
  /** GET /metrics wants `Authorization: Bearer <this>`; unset: the demo makes one and prints it. */
  LATCHKEY_METRICS_TOKEN: z.string().min(16, 'LATCHKEY_METRICS_TOKEN must be at least 16 characters').optional(),
  /** `true`: serve /metrics to anyone, without a token (it shows the Node version and the security counters). */
  LATCHKEY_DANGEROUSLY_OPEN_METRICS: z.enum(['true', 'false', '1', '0']).default('false'),
  /** Sign-in through an upstream OpenID Connect provider: its issuer URL, and this demo's client at it. */
  LATCHKEY_OIDC_ISSUER: z.string().url().optional(),
  LATCHKEY_OIDC_CLIENT_ID: z.string().min(1).optional(),
  LATCHKEY_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  /** `true`: run the bundled development IdP (oidc-provider) in this process, at /idp, and sign in through it. */
  LATCHKEY_DEMO_IDP: z.enum(['true', 'false', '1', '0']).default('false'),
  /**
   * `true`: proxy mode (docs/proxy.md). /api/me and /api/admin are served by a separate upstream API server on its own
   * port, which the page reaches only through the BFF's proxy at the same paths; the page holds no token.
   */
  LATCHKEY_DEMO_PROXY: z.enum(['true', 'false', '1', '0']).default('false'),
  /** With LATCHKEY_DEMO_PROXY: the upstream API's port (default: any free one). */
  LATCHKEY_DEMO_UPSTREAM_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** With LATCHKEY_DEMO_PROXY: proxy to this URL instead of starting the demo's own upstream (tests: an upstream that is down). */
  LATCHKEY_DEMO_UPSTREAM_URL: z.string().url().optional(),
  /** The BFF's `session.proxyRotationSeconds`: how old a credential gets before a proxied call rotates it (default 300). */
  LATCHKEY_PROXY_ROTATION_SECONDS: z.coerce.number().int().positive().optional(),
  /** The BFF's `session.rotationGraceSeconds` (default 15); tests shorten it with LATCHKEY_PROXY_ROTATION_SECONDS. */
  LATCHKEY_ROTATION_GRACE_SECONDS: z.coerce.number().int().min(0).max(120).optional(),
  /** The BFF's `session.idleTimeoutSeconds` (default 1800): a session ends after this long without real activity. */
  LATCHKEY_IDLE_TIMEOUT: z.coerce.number().int().positive().optional(),
  /**
   * Step-up (RFC 9470): /api/admin and the admin router want an authentication at most this many seconds old (default
   * 900, the admin router's); past it the page asks for the password again and retries. Tests shorten it.
   */
  LATCHKEY_DEMO_ADMIN_MAX_AUTH_AGE: z.coerce.number().int().min(0).default(900),
  /**
   * Resource servers allowed to call POST /auth/introspect and /auth/revoke: `id:secret`, comma-separated (the secret
   * is everything after the first colon; at least 32 characters). Unset: both routes answer 404.
   */
  LATCHKEY_INTROSPECTION_CLIENTS: z
    .string()
    .transform((text, ctx) => {
      const clients = text
        .split(',')
        .map((pair) => pair.trim())
        .filter(Boolean)
        .map((pair) => {
          const colon = pair.indexOf(':');
          return { id: pair.slice(0, colon), secret: pair.slice(colon + 1) };
        });
      if (clients.some((c) => c.id === '' || c.secret.length < 32)) {
        ctx.addIssue({
          code: 'custom',
          message: 'LATCHKEY_INTROSPECTION_CLIENTS must be id:secret pairs, comma-separated, each secret at least 32 characters',
        });
        return z.NEVER;
      }
      return clients;
    })
    .optional(),
  /** The BFF's `rateLimit` option as JSON, e.g. `{"refresh":{"perSession":{"limit":600,"windowMs":60000}}}` (load tests). */
  LATCHKEY_RATE_LIMITS: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'LATCHKEY_RATE_LIMITS must be JSON' });
        return z.NEVER;
      }
    })
    .optional(),
});

export interface DemoConfig {
  port: number;
  redisUrl: string | undefined;
  /** Set when LATCHKEY_REDIS_CLUSTER is on: the Cluster's seed nodes (REDIS_URL split at commas). */
  redisClusterNodes: string[] | undefined;
  /** Replica acknowledgements each write waits for; 0: none. */
  redisWaitReplicas: number;
  secret: string;
  secretIsEphemeral: boolean;
  accessTtlSeconds: number;
  issuer: string | undefined;
  /** LATCHKEY_ALLOWED_ORIGINS: origins allowed besides the ones the demo derives (see demoAllowedOrigins). */
  allowedOrigins: string[] | undefined;
  /**
   * The bearer token /metrics asks for: LATCHKEY_METRICS_TOKEN, or one made for this run (`metricsTokenIsGenerated`);
   * null only with LATCHKEY_DANGEROUSLY_OPEN_METRICS=true (/metrics open to anyone).
   */
  metricsToken: string | null;
  metricsTokenIsGenerated: boolean;
  eventStreamsPerUser: number;
  eventStreamsPerDevice: number;
  eventStreamsMax: number;
  /** OIDC sign-in through an external IdP (LATCHKEY_OIDC_*). */
  oidc: { issuer: string; clientId: string; clientSecret: string } | undefined;
  /** LATCHKEY_DEMO_IDP: run the development IdP in process and sign in through it. */
  demoIdp: boolean;
  /** LATCHKEY_DEMO_PROXY and its upstream (LATCHKEY_DEMO_UPSTREAM_PORT, LATCHKEY_DEMO_UPSTREAM_URL); undefined: token mode. */
  proxy: { upstreamPort: number; upstreamUrl: string | undefined } | undefined;
  /** LATCHKEY_PROXY_ROTATION_SECONDS. */
  proxyRotationSeconds: number | undefined;
  /** LATCHKEY_DEMO_ADMIN_MAX_AUTH_AGE: step-up on /api/admin and the admin router. */
  adminMaxAuthAgeSeconds: number;
  /** LATCHKEY_ROTATION_GRACE_SECONDS. */
  rotationGraceSeconds: number | undefined;
  /** LATCHKEY_IDLE_TIMEOUT. */
  idleTimeoutSeconds: number | undefined;
  /** Passed to the BFF as `rateLimit`, which validates it. */
  rateLimits: unknown;
  /** LATCHKEY_INTROSPECTION_CLIENTS: the BFF's `resourceClients`; empty: introspection and revocation are off. */
  introspectionClients: Array<{ id: string; secret: string }>;
}

/**
 * The Origin allow-list the demo hands the BFF, always explicit (never the request's own Host, which a DNS-rebinding
 * page controls): the issuer's origin, the demo's own http://localhost:PORT and http://127.0.0.1:PORT (two processes
 * of one deployment share an issuer but each serves the page on its own port), and LATCHKEY_ALLOWED_ORIGINS.
 */
export function demoAllowedOrigins(config: Pick<DemoConfig, 'issuer' | 'allowedOrigins'> & { port: number }): string[] {
  const own = config.port > 0 ? [`http://localhost:${config.port}`, `http://127.0.0.1:${config.port}`] : [];
  const origins = [new URL(config.issuer ?? `http://localhost:${config.port}`).origin, ...own, ...(config.allowedOrigins ?? [])];
  return [...new Set(origins.map((o) => new URL(o).origin))];
}

export function readDemoConfig(env: NodeJS.ProcessEnv): DemoConfig {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    throw new Error(`Invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const e = parsed.data;
  const cluster = e.LATCHKEY_REDIS_CLUSTER === 'true' || e.LATCHKEY_REDIS_CLUSTER === '1';
  if (cluster && e.REDIS_URL === undefined) throw new Error('Invalid environment: LATCHKEY_REDIS_CLUSTER needs REDIS_URL');
  if (!cluster && e.REDIS_URL?.includes(',')) {
    throw new Error('Invalid environment: REDIS_URL lists several URLs; set LATCHKEY_REDIS_CLUSTER=true for a Cluster');
  }
  const demoIdp = e.LATCHKEY_DEMO_IDP === 'true' || e.LATCHKEY_DEMO_IDP === '1';
  const oidcVars = [e.LATCHKEY_OIDC_ISSUER, e.LATCHKEY_OIDC_CLIENT_ID, e.LATCHKEY_OIDC_CLIENT_SECRET];
  if (oidcVars.some((v) => v !== undefined) && oidcVars.some((v) => v === undefined)) {
    throw new Error('Invalid environment: set all of LATCHKEY_OIDC_ISSUER, LATCHKEY_OIDC_CLIENT_ID and LATCHKEY_OIDC_CLIENT_SECRET, or none');
  }
  const metricsOpen = e.LATCHKEY_DANGEROUSLY_OPEN_METRICS === 'true' || e.LATCHKEY_DANGEROUSLY_OPEN_METRICS === '1';
  if (metricsOpen && e.LATCHKEY_METRICS_TOKEN !== undefined) {
    throw new Error('Invalid environment: LATCHKEY_DANGEROUSLY_OPEN_METRICS serves /metrics without a token; do not also set LATCHKEY_METRICS_TOKEN');
  }
  if (demoIdp && e.LATCHKEY_OIDC_ISSUER !== undefined) {
    throw new Error('Invalid environment: LATCHKEY_DEMO_IDP runs its own IdP; do not also set LATCHKEY_OIDC_ISSUER');
  }
  return {
    port: e.PORT,
    oidc: e.LATCHKEY_OIDC_ISSUER
      ? { issuer: e.LATCHKEY_OIDC_ISSUER, clientId: e.LATCHKEY_OIDC_CLIENT_ID!, clientSecret: e.LATCHKEY_OIDC_CLIENT_SECRET! }
      : undefined,
    demoIdp,
    proxy:
      e.LATCHKEY_DEMO_PROXY === 'true' || e.LATCHKEY_DEMO_PROXY === '1'
        ? { upstreamPort: e.LATCHKEY_DEMO_UPSTREAM_PORT, upstreamUrl: e.LATCHKEY_DEMO_UPSTREAM_URL }
        : undefined,
    proxyRotationSeconds: e.LATCHKEY_PROXY_ROTATION_SECONDS,
    rotationGraceSeconds: e.LATCHKEY_ROTATION_GRACE_SECONDS,
    idleTimeoutSeconds: e.LATCHKEY_IDLE_TIMEOUT,
    adminMaxAuthAgeSeconds: e.LATCHKEY_DEMO_ADMIN_MAX_AUTH_AGE,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: cluster ? e.REDIS_URL!.split(',').map((url) => url.trim()) : undefined,
    redisWaitReplicas: e.LATCHKEY_REDIS_WAIT_REPLICAS,
    secret: e.LATCHKEY_SECRET ?? randomBytes(32).toString('base64url'),
    secretIsEphemeral: e.LATCHKEY_SECRET === undefined,
    accessTtlSeconds: e.LATCHKEY_ACCESS_TTL,
    issuer: e.LATCHKEY_ISSUER,
    allowedOrigins: e.LATCHKEY_ALLOWED_ORIGINS?.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    // Closed by default: /metrics shows the Node version and the login, rate-limit and admin counters.
    metricsToken: metricsOpen ? null : (e.LATCHKEY_METRICS_TOKEN ?? randomBytes(24).toString('base64url')),
    metricsTokenIsGenerated: !metricsOpen && e.LATCHKEY_METRICS_TOKEN === undefined,
    eventStreamsPerUser: e.LATCHKEY_EVENT_STREAMS_PER_USER,
    eventStreamsPerDevice: e.LATCHKEY_EVENT_STREAMS_PER_DEVICE,
    eventStreamsMax: e.LATCHKEY_EVENT_STREAMS_MAX,
    rateLimits: e.LATCHKEY_RATE_LIMITS,
    introspectionClients: e.LATCHKEY_INTROSPECTION_CLIENTS ?? [],
  };
}
