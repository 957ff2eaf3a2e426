import { z } from 'zod';
import type { Request as ExpressRequest } from 'express';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { DEFAULT_COOKIE_NAME } from '@latchkey/shared';
import { isClock, systemClock, type Clock } from './clock.js';
import type { SessionStore } from './store/types.js';
import type { TracerProviderLike } from './observability/tracing.js';
import type { GrantedClaims } from './tokens/custom-claims.js';
import { SCOPE_TOKEN, tenantSchema } from './tokens/custom-claims.js';
import { sha256 } from './crypto/hash.js';
import { resolveStepUp } from './guard/fail-policy.js';
import type { ValidateSession } from './session/validate.js';
import { oidcSchema, resolveOidcOptions, type ResolvedOidcOptions } from './oidc/oidc-options.js';

export type {
  ClientAuth,
  IdpClaims,
  MapUser,
  MapUserInfo,
  OidcOptions,
  OidcProviderOptions,
  ResolvedIdpProvider,
  ResolvedOidcOptions,
  ResolvedOidcProvider,
  ResolvedOAuthProvider,
} from './oidc/oidc-options.js';

/**
 * What the application's `authenticate` callback returns for good credentials. `claims` and `scope` go into every
 * access token of the device session (refreshes included). `claims` stays optional even when the application declares
 * `LatchkeyClaims` (the library's default OIDC mapUser cannot supply them): an application that declares claims
 * returns them from every authenticate and mapUser.
 */
export type AuthenticatedUser = {
  id: string;
  name: string;
  /**
   * How strongly the user authenticated (`acr` of the access tokens; `requireAuth({ acrValues })`). Default: the IdP's
   * ID token's `acr` after an IdP sign-in, none after a password.
   */
  acr?: string;
  /** How the user authenticated (`amr`, RFC 8176). Default: `['pwd']` after a password, the ID token's `amr` after an IdP sign-in. */
  amr?: readonly string[];
} & GrantedClaims;

/**
 * What the guard does while the store is unreachable (see `requireAuth`). Every option's `.describe()` / `.meta()` is
 * the README's options table (`npm run docs:generate`): `typeName` names a type zod cannot show, `defaultText` a default
 * resolveBffOptions computes.
 */
const failPolicySchema = z.strictObject({
  onStoreUnavailable: z
    .enum(['closed', 'open'])
    .default('closed')
    .describe('`closed`: 503 while the revocation view is stale; `open`: keep deciding from the view while it is at most `maxStalenessMs` old'),
  maxStalenessMs: z
    .number()
    .int()
    .min(0)
    .max(10 * 60_000)
    .default(30_000)
    .describe("bound on the revocation view's age for `open`"),
});

/**
 * Checks a username and password (POST /login). `req` is the request it came in on: Express's request under
 * `bff.router`, the Fetch `Request` under `bff.fetch`.
 */
export type Authenticate = (username: string, password: string, req: ExpressRequest | Request) => Promise<AuthenticatedUser | null>;

const secret = z.string().min(32, 'each secret must be at least 32 characters');
const positiveSeconds = z.number().int().positive();

/**
 * A server allowed to call `POST /introspect` and `POST /revoke` (RFC 7662, RFC 7009), authenticated with
 * client_secret_basic or client_secret_post. `secretHash` is SHA-256 of the secret, base64url (43 characters), for
 * configurations that should not hold the secret itself; either way the secret must be random and long (a plain hash,
 * no KDF, is enough only for high-entropy secrets).
 */
const resourceClientSchema = z
  .strictObject({
    id: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[\x20-\x7E]+$/, 'id must be printable ASCII')
      .describe('printable ASCII (RFC 6749 VSCHAR), unique'),
    secret: z
      .string()
      .min(32, 'a resource client secret must be at least 32 characters')
      .max(1024)
      .optional()
      .describe("the client's secret (random); exactly one of `secret` and `secretHash`; compared in constant time, never logged"),
    secretHash: z
      .string()
      .regex(/^[A-Za-z0-9_-]{43}$/, 'secretHash must be SHA-256 of the secret, base64url (43 characters)')
      .optional()
      .describe('SHA-256 of the secret, base64url (43 characters), for configurations that should not hold the secret'),
    audiences: z
      .array(z.string().min(1))
      .min(1)
      .max(100)
      .optional()
      .meta({ defaultText: 'unset: any', description: 'only tokens whose `aud` names one of these exist for this client (others introspect as inactive)' }),
    tenants: z
      .array(tenantSchema)
      .min(1)
      .max(1000)
      .optional()
      .meta({ defaultText: 'unset: any', description: 'only tokens whose `tenant` is one of these exist for this client (a token without one does not)' }),
    includeTenant: z.boolean().default(false).describe("introspection answers carry the token's `tenant` claim (when it has one)"),
  })
  .refine((c) => (c.secret === undefined) !== (c.secretHash === undefined), 'pass exactly one of secret and secretHash');

export type ResourceClientOptions = z.input<typeof resourceClientSchema>;

export type ResolvedResourceClient = Readonly<{
  id: string;
  secretHash: string;
  /** Absent: any audience. */
  audiences?: readonly string[];
  /** Absent: any tenant, or none. NFC-normalised. */
  tenants?: readonly string[];
  includeTenant: boolean;
}>;

/** A fixed window (rate-limiter-flexible counts whole seconds: windows are rounded up to a second). */
const limitSchema = z
  .strictObject({
    limit: z.number().int().positive(),
    windowMs: z.number().int().min(1000, 'windowMs must be at least 1000 (rate limits count whole seconds)'),
  })
  .meta({ typeName: '`{ limit, windowMs }` (`windowMs` >= 1000)' });

const RATE_LIMIT_DEFAULTS = {
  login: {
    perIp: { limit: 30, windowMs: 60_000 },
    perAccountAndIp: { limit: 5, windowMs: 15 * 60_000 },
    perAccount: { limit: 100, windowMs: 15 * 60_000 },
    perKnownDevice: { limit: 5, windowMs: 15 * 60_000 },
  },
  refresh: {
    perIp: { limit: 1200, windowMs: 60_000 },
    perSession: { limit: 60, windowMs: 60_000 },
  },
  oidcLogin: {
    perIp: { limit: 30, windowMs: 60_000 },
  },
  clientAuth: {
    perIp: { limit: 20, windowMs: 60_000 },
    perClient: { limit: 100, windowMs: 60_000 },
  },
} as const;

/** The access tokens the BFF signs, and what the guard accepts. */
const tokensSchema = z
  .strictObject({
    issuer: z.url().describe('`iss` of access tokens'),
    audience: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .meta({ defaultText: 'the issuer', description: '`aud` of access tokens, and what the guard requires' }),
    clientId: z.string().min(1).default('latchkey').describe('the `client_id` claim'),
    algorithm: z.enum(['ES256', 'EdDSA']).default('ES256').describe('signing algorithm; the guard accepts only it'),
    ttlSeconds: positiveSeconds.max(3600).default(300).describe("access-token lifetime (never past the session's absolute end)"),
    clockSkewSeconds: z
      .number()
      .int()
      .min(0)
      .max(120)
      .default(5)
      .describe('tolerance for `exp`, `nbf` and `iat`; bounded: a large skew is a long-lived token in disguise'),
    maxBytes: z.number().int().min(512).max(16384).default(4096).describe('the guard refuses longer tokens before parsing; issuing never produces one'),
    maxClaimsBytes: z.number().int().min(0).max(8192).optional().meta({
      defaultText: '`1024`, or less when `tokens.maxBytes` leaves less room',
      description: 'bound on the JSON size of the custom claims and scope `authenticate` returns (they ride in every access token)',
    }),
    browser: z
      .boolean()
      .default(true)
      .describe(
        '`false` for proxy mode only (docs/proxy.md): login answers `{ user, session }` without a token and `POST /refresh` is not served (404), so no script in the page can obtain a token; APIs are reached through `bff.proxy`',
      ),
  })
  .describe('the access tokens the BFF signs and the guard accepts');

/** The device session's lifetime and rotation. */
const sessionSchema = z
  .strictObject({
    idleTimeoutSeconds: positiveSeconds
      .default(30 * 60)
      .describe(
        'a device session ends after this long without real activity (input or API calls the client reports with its refresh, proxied calls; never timers); 30 minutes is NIST SP 800-63B AAL2, use 15 minutes for AAL3 (docs/security.md#session-lifetime)',
      ),
    absoluteTimeoutSeconds: positiveSeconds
      .default(30 * 24 * 3600)
      .describe('a device session ends this long after login, whatever its activity; at least `session.idleTimeoutSeconds`'),
    maxPerUser: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(50)
      .describe(
        "live device sessions per user; a login beyond it ends (like a revocation) a session never refreshed since its login, else the user's least recently active one, so one account cannot grow the session list without bound (docs/architecture.md#sessions-rotation-and-theft)",
      ),
    rotationGraceSeconds: z
      .number()
      .int()
      .min(0)
      .max(120)
      .default(15)
      .describe(
        'how long a refresh with the just-superseded cookie gets the same successor (concurrent tabs, lost responses) instead of counting as theft; `0` for high-risk deployments (docs/security.md#refresh-grace-window)',
      ),
    proxyRotationSeconds: positiveSeconds
      .max(24 * 3600)
      .default(300)
      .describe(
        "proxy mode's sliding rotation: a cookie-authenticated call (`bff.proxy`, `GET /session`) whose credential is this old rotates it and sets the new cookie on its answer, since such clients never call `/refresh`; more than `session.rotationGraceSeconds` (docs/proxy.md)",
      ),
    readCacheSeconds: z
      .number()
      .int()
      .min(0)
      .max(60)
      .default(5)
      .describe(
        'how long `bff.getSession`, `bff.getAccessToken` and `bff.proxy` (a call not due for rotation) may answer a cookie from memory without a store read (never longer than `session.rotationGraceSeconds`; every revocation in the local view still applies on each answer; `0`: always read the store) (docs/ssr.md#what-is-cached)',
      ),
    validateCacheSeconds: z
      .number()
      .int()
      .min(0)
      .max(3600)
      .default(60)
      .describe(
        "how long `validateSession`'s verdict for one session is reused: a disabled account or a changed role takes effect within it (`0`: ask on every refresh)",
      ),
    logoutAllMaxAuthAgeSeconds: positiveSeconds.optional().meta({
      defaultText: 'unset: no step-up',
      description:
        '`POST /logout-all` needs an authentication on this device session at most this old (401 `insufficient_user_authentication` with `max_age`; the page re-authenticates with `POST /reauthenticate` and retries)',
    }),
    logoutOthersMaxAuthAgeSeconds: positiveSeconds.optional().meta({ defaultText: 'unset: no step-up', description: 'the same for `POST /logout-others`' }),
  })
  .prefault({})
  .describe('the device session: its lifetime, the cap per user, and the rotation of its cookie credential');

const cookieSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/)
      .optional()
      .meta({
        typeName: 'cookie name (RFC 6265 token)',
        defaultText: "`'__Host-latchkey'` (`'latchkey'` with `dangerouslyAllowInsecureHttp`)",
        description: 'the session cookie; must start with `__Host-` unless `dangerouslyAllowInsecureHttp`',
      }),
  })
  .prefault({})
  .describe('the session cookie (always `HttpOnly`, `SameSite=Strict`, `Path=/`, `Secure` unless `dangerouslyAllowInsecureHttp`)');

const originsSchema = z
  .strictObject({
    allowed: z.array(z.url()).optional().meta({
      defaultText: "outside production: the BFF's own origin (request protocol + Host); **required** when `NODE_ENV=production`",
      description:
        "origins allowed to call the cookie routes (an `Origin` header, when present, must be one of them); required in production because the Host header is the client's to choose (DNS rebinding), so it cannot vouch for the Origin",
    }),
    cors: z
      .boolean()
      .default(false)
      .describe(
        'answer CORS (credentials, preflight for `X-CSRF`) for exactly `origins.allowed`, for pages on another origin of the same site (`app.example.com` calling `auth.example.com`); requires `origins.allowed`; cross-site is not supported (docs/deployment.md)',
      ),
  })
  .prefault({})
  .describe('which pages may call the cookie routes');

const rateLimitSchema = z
  .strictObject({
    login: z
      .strictObject({
        perIp: limitSchema.default(RATE_LIMIT_DEFAULTS.login.perIp).describe('login attempts per client IP'),
        perAccountAndIp: limitSchema
          .default(RATE_LIMIT_DEFAULTS.login.perAccountAndIp)
          .describe('failed login attempts on one account from one client IP: what stops a guesser without locking the owner out'),
        perAccount: limitSchema
          .default(RATE_LIMIT_DEFAULTS.login.perAccount)
          .describe(
            "failed login attempts on one account from all IPs together (not from the account's known devices): the ceiling against guessing from many addresses",
          ),
        perKnownDevice: limitSchema
          .default(RATE_LIMIT_DEFAULTS.login.perKnownDevice)
          .describe(
            "failed logins from one known device of the account (a browser holding the device cookie a successful login of that account set), counted instead of `perAccountAndIp` and `perAccount`: the owner's devices are never locked out by guesses from elsewhere (docs/security.md)",
          ),
      })
      .prefault({})
      .describe('password logins (`POST /login`)'),
    refresh: z
      .strictObject({
        perIp: limitSchema
          .default(RATE_LIMIT_DEFAULTS.refresh.perIp)
          .describe(
            'refreshes per client IP; generous: many users can share one address (NAT); a 429 never signs anyone out (the client retries it like a 503)',
          ),
        perSession: limitSchema.default(RATE_LIMIT_DEFAULTS.refresh.perSession).describe('refreshes per device session (counted for well-signed cookies only)'),
      })
      .prefault({})
      .describe('`POST /refresh`'),
    oidcLogin: z
      .strictObject({
        perIp: limitSchema
          .default(RATE_LIMIT_DEFAULTS.oidcLogin.perIp)
          .describe('sign-in starts at the identity provider (`GET /oidc/login`) per client IP, apart from password logins; each writes a login transaction'),
      })
      .prefault({})
      .describe('sign-in starts at the identity provider'),
    clientAuth: z
      .strictObject({
        perIp: limitSchema
          .default(RATE_LIMIT_DEFAULTS.clientAuth.perIp)
          .describe('failed resource-client authentications (`/introspect`, `/revoke`) from one client IP (docs/introspection.md)'),
        perClient: limitSchema
          .default(RATE_LIMIT_DEFAULTS.clientAuth.perClient)
          .describe(
            'failed authentications as one resource client, from all IPs; addresses this instance saw the client authenticate from are exempt (its own servers are not locked out by guesses from elsewhere)',
          ),
      })
      .prefault({})
      .describe('resource-client authentication at `/introspect` and `/revoke`'),
  })
  .prefault({})
  .describe(
    "fixed windows counted in the store's backend (rate-limiter-flexible; Redis in Redis mode, shared by every instance), 429 with Retry-After when over; a login counter that cannot answer makes login answer 503 before any password check (docs/security.md)",
  );

// Strict everywhere: a misspelt option (`tokens.ttlSecond`) or one from an older layout (`accessTokenTtlSeconds`) must
// fail loudly, not silently keep a default.
export const optionsSchema = z.strictObject({
  store: z
    .custom<SessionStore>((v) => typeof v === 'object' && v !== null && typeof (v as SessionStore).rotate === 'function', {
      message: 'store must implement SessionStore',
    })
    .meta({
      typeName: '`SessionStore`',
      description:
        '`new MemoryStore()` (one process, development) or `await RedisStore.connect({ url })` / `{ clusterNodes }`; the application owns it and closes it',
    }),
  secrets: z
    .array(secret)
    .min(1)
    .describe('newest first: the first signs cookies and seals the shared key ring, the others are still accepted (secret rotation)'),
  authenticate: z
    .custom<Authenticate>((v) => typeof v === 'function', { message: 'authenticate must be a function' })
    .meta({
      typeName: '`(username, password, req) => Promise<{ id, name, claims?, scope?, tenant? } | null>`',
      description: 'checks credentials; `null` for any failure (README "Claims and scopes"; `tenant`: docs/admin.md#tenant-wide-revocation)',
    }),
  validateSession: z
    .custom<ValidateSession>((v) => typeof v === 'function', { message: 'validateSession must be a function' })
    .optional()
    .meta({
      typeName: '`(user, session) => boolean | { claims?, scope? } | Promise<…>`',
      defaultText: 'unset: a session lives until it ends or is revoked',
      description:
        'checks a live session against the account on refresh and on proxy-mode calls, at most once per `session.validateCacheSeconds` per session: `false` ends it (401 `session_revoked`), `{ claims?, scope? }` goes into its next access tokens, a throw is 503 (never a sign-out) (docs/security.md#sessions-follow-the-account)',
    }),
  oidc: oidcSchema.optional().meta({
    defaultText: 'unset: password login only',
    description:
      'sign-in through upstream identity providers, OpenID Connect or plain OAuth 2.0 (routes under `/oidc`; README "Identity provider", docs/oidc.md)',
  }),
  tokens: tokensSchema,
  session: sessionSchema,
  cookie: cookieSchema,
  origins: originsSchema,
  rateLimit: rateLimitSchema,
  dangerouslyAllowInsecureHttp: z.boolean().default(false).describe('plain-http development only: drops `Secure` and the `__Host-` prefix; warns at startup'),
  scopePolicies: z
    .record(z.string().regex(SCOPE_TOKEN, 'a scope is printable ASCII without spaces, quotes or backslashes'), failPolicySchema)
    .default({})
    .meta({
      keyName: 'scope',
      description:
        'fail policy per scope: a route that requires scopes uses the strictest policy among its scopes that have one and its own explicit policy (closed beats open; the smaller staleness bound wins) (README "Claims and scopes")',
    }),
  eventStreams: z
    .strictObject({
      maxPerUser: z
        .number()
        .int()
        .positive()
        .default(10)
        .describe("open streams per user in this process (one per browser is the client's norm; several devices each hold one)"),
      maxPerDevice: z
        .number()
        .int()
        .positive()
        .default(3)
        .describe(
          "open streams per device session (one, plus a reconnect that overlaps the old stream's close): one device cannot take the user's whole `maxPerUser`",
        ),
      maxPerProcess: z
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('open streams in this process; beyond it, 503 with Retry-After (another instance may have room)'),
      heartbeatSeconds: z
        .number()
        .positive()
        .max(300)
        .default(15)
        .describe('a comment line this often keeps proxies and load balancers from closing an idle stream'),
      retryMs: z.number().int().min(100).max(60_000).default(2000).describe('the `retry:` the browser waits before reconnecting a dropped stream'),
    })
    .default({ maxPerUser: 10, maxPerDevice: 3, maxPerProcess: 10_000, heartbeatSeconds: 15, retryMs: 2000 })
    .describe('`GET /events` (server-sent events): connection caps and timing (docs/live.md)'),
  resourceClients: z
    .array(resourceClientSchema)
    .max(100)
    .refine((clients) => new Set(clients.map((c) => c.id)).size === clients.length, 'resource client ids must be unique')
    .default([])
    .meta({
      defaultText: '`[]`: both routes answer 404',
      description:
        'servers allowed to call `POST /introspect` (RFC 7662) and `POST /revoke` (RFC 7009) with `client_secret_basic` or `client_secret_post` (docs/introspection.md)',
    }),
  logger: z
    .custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).info === 'function')
    .optional()
    .meta({
      typeName: 'pino `Logger`',
      defaultText: 'pino (`name: latchkey`) to stdout at `LATCHKEY_LOG_LEVEL` or `info`, credential paths and headers redacted',
      description: 'where the BFF logs (never tokens, cookies, passwords or secrets; user ids and session ids, yes: docs/security.md)',
    }),
  clock: z.custom<Clock>(isClock, { message: 'clock must have a now() method' }).optional().meta({
    typeName: '`{ now(): number }`',
    defaultText: 'the system clock',
    description:
      'tests only, never set in production: the time every expiry decision uses (sessions, tokens, markers, keys); give the MemoryStore the same one (docs/time.md)',
  }),
  tracing: z
    .strictObject({
      enabled: z.boolean().default(true).describe('false: never loads `@opentelemetry/api`, no spans whatever the application registered'),
      recordUserId: z.boolean().default(false).describe("spans carry `user.id` (the application's user id: personal data, so off unless asked for)"),
      tracerProvider: z
        .custom<TracerProviderLike>((v) => typeof v === 'object' && v !== null && typeof (v as TracerProviderLike).getTracer === 'function', {
          message: 'tracerProvider must have getTracer()',
        })
        .optional()
        .meta({ typeName: 'OpenTelemetry `TracerProvider`', defaultText: 'the global provider (`trace.getTracer`)', description: 'where the spans go' }),
    })
    .default({ enabled: true, recordUserId: false })
    .describe('OpenTelemetry spans through `@opentelemetry/api` when it is installed and a provider is registered (docs/tracing.md)'),
});

export type BffOptions = z.input<typeof optionsSchema>;
export type ScopeFailPolicy = z.input<typeof failPolicySchema>;

type Limit = Readonly<z.output<typeof limitSchema>>;

/** The options after validation, grouped as they are given, with every default and derived value filled in. */
export interface ResolvedBffOptions extends Omit<
  z.output<typeof optionsSchema>,
  'tokens' | 'session' | 'cookie' | 'origins' | 'rateLimit' | 'logger' | 'scopePolicies' | 'resourceClients' | 'clock' | 'secrets' | 'oidc' | 'tracing'
> {
  secrets: readonly string[];
  /** The identity providers, resolved (oidc/oidc-options.ts); absent: password login only. */
  oidc?: ResolvedOidcOptions;
  tracing: Readonly<z.output<typeof optionsSchema>['tracing']>;
  tokens: Readonly<
    Omit<z.output<typeof tokensSchema>, 'audience' | 'maxClaimsBytes'> & {
      /** `tokens.audience`, or the issuer when unset. */
      audience: string | readonly string[];
      /** True when `tokens.audience` was not given (the audience is the issuer). */
      audienceIsDefault: boolean;
      maxClaimsBytes: number;
    }
  >;
  session: Readonly<z.output<typeof sessionSchema>>;
  /** The session cookie's name, and the attributes every cookie of the session is set with. */
  cookie: Readonly<{ name: string; attributes: Readonly<{ secure: boolean; sameSite: 'strict'; httpOnly: true; path: '/' }> }>;
  /** `allowed` holds origins (`scheme://host[:port]`), normalised from the URLs given. */
  origins: Readonly<{ allowed?: readonly string[]; cors: boolean }>;
  rateLimit: Readonly<{
    login: Readonly<{ perIp: Limit; perAccountAndIp: Limit; perAccount: Limit; perKnownDevice: Limit }>;
    refresh: Readonly<{ perIp: Limit; perSession: Limit }>;
    oidcLogin: Readonly<{ perIp: Limit }>;
    clientAuth: Readonly<{ perIp: Limit; perClient: Limit }>;
  }>;
  clock: Clock;
  /** Each client's id, the SHA-256 (base64url) of its secret, and which tokens it may see. */
  resourceClients: readonly ResolvedResourceClient[];
  scopePolicies: Readonly<Record<string, Readonly<z.output<typeof failPolicySchema>>>>;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((key) => (where ? `${where}.${key}` : key));
    return `unknown option${names.length > 1 ? 's' : ''} ${names.map((n) => `"${n}"`).join(', ')}`;
  }
  return `${where || 'options'}: ${issue.message}`;
}

const invalid = (message: string) => new TypeError(`Invalid Latchkey BFF options: ${message}`);

/** Freezes a group of rate limits and each limit in it. */
function freezeLimits<T extends Record<string, object>>(group: T): Readonly<T> {
  return Object.freeze(Object.fromEntries(Object.entries(group).map(([name, limit]) => [name, Object.freeze({ ...limit })])) as T);
}

/** Validates every option once and returns a frozen, fully-defaulted object. Throws a readable error on bad input. */
export function resolveBffOptions(input: BffOptions): Readonly<ResolvedBffOptions> & { logger?: Logger } {
  const parsed = optionsSchema.safeParse(input);
  if (!parsed.success) {
    const detail = parsed.error.issues.map(describeIssue).join('; ');
    throw invalid(detail);
  }
  const o = parsed.data;
  const { tokens, session, origins } = o;
  if (session.absoluteTimeoutSeconds < session.idleTimeoutSeconds) {
    throw invalid('session.absoluteTimeoutSeconds must be >= session.idleTimeoutSeconds');
  }
  if (session.proxyRotationSeconds <= session.rotationGraceSeconds) {
    // A credential rotated again before the grace of the previous rotation ran out would strand calls still in flight.
    throw invalid('session.proxyRotationSeconds must be greater than session.rotationGraceSeconds');
  }
  if (origins.allowed === undefined && process.env.NODE_ENV === 'production') {
    throw invalid(
      'origins.allowed is required when NODE_ENV=production. Without it the Origin check ' +
        "trusts the request's own Host header, which a DNS-rebinding page controls. List the origins of your pages, " +
        "for example origins: { allowed: ['https://app.example.com'] }.",
    );
  }
  if (origins.cors && origins.allowed === undefined) {
    throw invalid('origins.cors needs origins.allowed (the origins whose pages may call the BFF and read its answers)');
  }
  // Claims ride base64url-encoded (4/3) next to about 1 KB of registered claims, header and signature.
  const claimsRoom = Math.max(0, Math.floor(((tokens.maxBytes - 1024) * 3) / 4));
  const maxClaimsBytes = tokens.maxClaimsBytes ?? Math.min(1024, claimsRoom);
  if (maxClaimsBytes > claimsRoom) {
    throw invalid('tokens.maxClaimsBytes is too large for tokens.maxBytes (tokens with those claims would be refused)');
  }
  const insecure = o.dangerouslyAllowInsecureHttp;
  // `__Host-` requires Secure; a plain-http cookie must not claim the prefix or browsers drop it.
  const cookieName = o.cookie.name ?? (insecure ? DEFAULT_COOKIE_NAME.replace(/^__Host-/, '') : DEFAULT_COOKIE_NAME);
  if (!insecure && !cookieName.startsWith('__Host-')) {
    throw invalid('cookie.name must start with __Host- (or set dangerouslyAllowInsecureHttp)');
  }
  let oidc: ResolvedOidcOptions | undefined;
  try {
    oidc = o.oidc ? resolveOidcOptions(o.oidc) : undefined;
  } catch (error) {
    throw new TypeError(`Invalid Latchkey BFF options: ${(error as Error).message}`, { cause: error });
  }
  return Object.freeze({
    ...o,
    tokens: Object.freeze({
      ...tokens,
      audience: Object.freeze(tokens.audience ?? tokens.issuer) as string | readonly string[],
      audienceIsDefault: tokens.audience === undefined,
      maxClaimsBytes,
    }),
    session: Object.freeze({ ...session }),
    cookie: Object.freeze({
      name: cookieName,
      attributes: Object.freeze({ secure: !insecure, sameSite: 'strict' as const, httpOnly: true as const, path: '/' as const }),
    }),
    origins: Object.freeze({
      ...(origins.allowed ? { allowed: Object.freeze(origins.allowed.map((u) => new URL(u).origin)) } : {}),
      cors: origins.cors,
    }),
    rateLimit: Object.freeze({
      login: freezeLimits(o.rateLimit.login),
      refresh: freezeLimits(o.rateLimit.refresh),
      oidcLogin: freezeLimits(o.rateLimit.oidcLogin),
      clientAuth: freezeLimits(o.rateLimit.clientAuth),
    }),
    secrets: Object.freeze([...o.secrets]),
    clock: o.clock ?? systemClock,
    scopePolicies: Object.freeze(Object.fromEntries(Object.entries(o.scopePolicies).map(([scope, policy]) => [scope, Object.freeze(policy)]))),
    // Only the hashes are kept: the resolved options never hold a client's secret.
    resourceClients: Object.freeze(
      o.resourceClients.map((c) =>
        Object.freeze({
          id: c.id,
          secretHash: c.secretHash ?? sha256(c.secret!),
          ...(c.audiences ? { audiences: Object.freeze([...c.audiences]) } : {}),
          ...(c.tenants ? { tenants: Object.freeze(c.tenants.map((t) => t.normalize('NFC'))) } : {}),
          includeTenant: c.includeTenant,
        }),
      ),
    ),
    oidc,
    tracing: Object.freeze({ ...o.tracing }),
  });
}

/** What a `token` function of `bff.proxy` gets: the device session (public handles and granted claims) and the request. */
export interface ProxyTokenContext {
  userId: string;
  /** The device session's public id (the `sid` claim). */
  sid: string;
  /** The claims and `scope` granted at login. */
  claims: Readonly<Record<string, unknown>>;
  /** The application's Express request; for a WebSocket upgrade (`webSocket: true`), Node's `IncomingMessage`. */
  req: ExpressRequest | IncomingMessage;
}

/**
 * The token a proxy attaches: `'latchkey'` (a Latchkey access token for the device session, minted and cached
 * server-side), `'idp'` (the user's access token from the identity provider that started the session, renewed with its
 * sealed refresh token when due; needs the `oidc` option), `'none'`, or a function answering the token to send as `Bearer` (RFC 8693 token exchange, a per-API
 * audience, client credentials), or null for none. A function that throws answers 502 `upstream_unavailable`.
 */
export type ProxyToken = 'latchkey' | 'idp' | 'none' | ((context: ProxyTokenContext) => Promise<string | null> | string | null);

const METHOD = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const proxyOptionsSchema = z
  .object({
    target: z
      .string()
      .url()
      .refine((u) => /^https?:$/.test(new URL(u).protocol), 'target must be an http: or https: URL')
      .refine((u) => new URL(u).search === '' && new URL(u).hash === '' && new URL(u).username === '', 'target takes no query, fragment or credentials'),
    token: z.union([
      z.literal('latchkey'),
      z.literal('idp'),
      z.literal('none'),
      z.custom<(context: ProxyTokenContext) => unknown>((v) => typeof v === 'function'),
    ]),
    methods: z.array(METHOD).min(1).default(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']),
    scopes: z.array(z.string().regex(SCOPE_TOKEN)).default([]),
    bodyLimitBytes: z
      .number()
      .int()
      .min(0)
      .max(1024 ** 3)
      .default(1024 * 1024),
    timeoutMs: z.number().int().positive().max(600_000).default(30_000),
    onStoreUnavailable: z.enum(['closed', 'open']).default('closed'),
    maxStalenessMs: z.number().int().positive().max(3_600_000).default(30_000),
    // Step-up (RFC 9470), as requireAuth's: checked against the device session's authentication.
    maxAuthAgeSeconds: z.number().int().min(0).optional(),
    acrValues: z.array(z.string().regex(SCOPE_TOKEN)).min(1).optional(),
    webSocket: z
      .boolean()
      .default(false)
      .describe('proxy WebSocket upgrades too (wired with `bff.upgrades`): cookie + required Origin on the allow-list, closed with 4401 when the session ends'),
  })
  .strict();

export type ProxyOptions = z.input<typeof proxyOptionsSchema> & { token: ProxyToken };
export type ResolvedProxyOptions = Readonly<Omit<z.output<typeof proxyOptionsSchema>, 'token' | 'target' | 'maxAuthAgeSeconds' | 'acrValues'>> & {
  token: ProxyToken;
  target: URL;
  /** Step-up requirements (`maxAuthAgeSeconds`, `acrValues`), when any. */
  authentication?: Readonly<{ maxAgeSeconds?: number; acrValues?: readonly string[] }>;
};

/** Validates `bff.proxy`'s options once; throws a readable TypeError on bad input. */
export function resolveProxyOptions(input: ProxyOptions): ResolvedProxyOptions {
  const parsed = proxyOptionsSchema.safeParse(input);
  if (!parsed.success) throw new TypeError(`Invalid bff.proxy options: ${parsed.error.issues.map(describeIssue).join('; ')}`);
  const { maxAuthAgeSeconds, acrValues, ...o } = parsed.data;
  const authentication = resolveStepUp({ maxAuthAgeSeconds, acrValues });
  return Object.freeze({
    ...o,
    ...(authentication ? { authentication } : {}),
    target: new URL(o.target),
    token: o.token as ProxyToken,
    methods: Object.freeze([...o.methods]) as unknown as (typeof o)['methods'],
    scopes: Object.freeze([...o.scopes]) as unknown as string[],
  });
}
