import { z } from 'zod';
import type { Request as ExpressRequest } from 'express';
import type { Logger } from 'pino';
import { DEFAULT_COOKIE_NAME } from '@latchkey/shared';
import { isClock, systemClock, type Clock } from './clock.js';
import type { SessionStore } from './store/types.js';
import type { TracerProviderLike } from './observability/tracing.js';
import type { GrantedClaims } from './tokens/custom-claims.js';
import { SCOPE_TOKEN, tenantSchema } from './tokens/custom-claims.js';
import { sha256 } from './crypto/hash.js';

/**
 * What the application's `authenticate` callback returns for good credentials. `claims` and `scope` go into every
 * access token of the device session (refreshes included). `claims` stays optional even when the application declares
 * `LatchkeyClaims` (the library's default OIDC mapUser cannot supply them): an application that declares claims
 * returns them from every authenticate and mapUser.
 */
export type AuthenticatedUser = {
  id: string;
  name: string;
} & GrantedClaims;

/** What the guard does while the store is unreachable (see `requireAuth`). */
const failPolicySchema = z.strictObject({
  onStoreUnavailable: z.enum(['closed', 'open']).default('closed'),
  /** Bound on the revocation view's age for `open`. */
  maxStalenessMs: z
    .number()
    .int()
    .min(0)
    .max(10 * 60_000)
    .default(30_000),
});

/**
 * Checks a username and password (POST /login). `req` is the request it came in on: Express's request under
 * `bff.router`, the Fetch `Request` under `bff.fetch`.
 */
export type Authenticate = (username: string, password: string, req: ExpressRequest | Request) => Promise<AuthenticatedUser | null>;

const secret = z.string().min(32, 'each secret must be at least 32 characters');
const positiveSeconds = z.number().int().positive();

/**
 * The identity provider's claims about the user (the ID token's claims after a sign-in; only `iss` and `sub` for a
 * back-channel logout token that carries no `sid`).
 */
export interface IdpClaims {
  iss: string;
  sub: string;
  name?: unknown;
  preferred_username?: unknown;
  email?: unknown;
  [claim: string]: unknown;
}

/**
 * Maps the IdP's user to the application's. Default: id `${iss}|${sub}` (the pair OIDC guarantees unique and stable),
 * name from `name`, then `preferred_username`, then `email`, then `sub`. Return null to refuse the sign-in.
 * A back-channel logout without `sid` calls it with `{ iss, sub }` only, so the id must follow from those two.
 */
export type MapUser = (claims: IdpClaims) => AuthenticatedUser | null | Promise<AuthenticatedUser | null>;

const oidcSchema = z
  .strictObject({
    /** The provider's issuer URL; its discovery document is read from `<issuer>/.well-known/openid-configuration`. */
    issuer: z.url(),
    clientId: z.string().min(1),
    /** client_secret_basic. Exactly one of clientSecret and privateKeyJwk. */
    clientSecret: z.string().min(1).optional(),
    /** private_key_jwt: the private JWK (with `alg`, or ES256/RS256 is inferred from `kty`). */
    privateKeyJwk: z.record(z.string(), z.unknown()).optional(),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/))
      .min(1)
      .default(['openid', 'profile', 'email']),
    /** This BFF's callback as registered at the IdP, e.g. `https://app.example.com/auth/oidc/callback`. */
    redirectUri: z.url(),
    /** Where the IdP sends the browser after an RP-initiated logout; unset: logout stays local (204). */
    postLogoutRedirectUri: z.url().optional(),
    mapUser: z.custom<MapUser>((v) => typeof v === 'function', { message: 'mapUser must be a function' }).optional(),
    /** Lifetime of the login transaction (state, nonce, PKCE verifier) and its cookie. */
    transactionTtlSeconds: positiveSeconds.max(3600).default(600),
    /** Renew at the IdP when its access token expires within this margin. */
    refreshMarginSeconds: z.number().int().min(0).max(3600).default(30),
    /** Deadline of each request to the IdP; past it the BFF answers 503. */
    requestTimeoutMs: z.number().int().positive().max(60_000).default(5000),
    /** How old (by its iat) a back-channel logout token may be; its jti is remembered until then plus clockSkewSeconds. */
    logoutTokenReplayWindowSeconds: positiveSeconds.max(24 * 3600).default(600),
    /** Allows an http:// IdP (development IdP, tests). Never in production. Warns at startup. */
    dangerouslyAllowInsecureIdpRequests: z.boolean().default(false),
  })
  .refine((o) => (o.clientSecret === undefined) !== (o.privateKeyJwk === undefined), 'pass exactly one of clientSecret and privateKeyJwk')
  .refine((o) => o.scopes.includes('openid'), 'scopes must include openid');

/**
 * A server allowed to call `POST /introspect` and `POST /revoke` (RFC 7662, RFC 7009), authenticated with
 * client_secret_basic or client_secret_post. `secretHash` is SHA-256 of the secret, base64url (43 characters), for
 * configurations that should not hold the secret itself; either way the secret must be random and long (a plain hash,
 * no KDF, is enough only for high-entropy secrets).
 */
const resourceClientSchema = z
  .strictObject({
    /** Printable ASCII (RFC 6749 VSCHAR). */
    id: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[\x20-\x7E]+$/, 'id must be printable ASCII'),
    secret: z.string().min(32, 'a resource client secret must be at least 32 characters').max(1024).optional(),
    secretHash: z
      .string()
      .regex(/^[A-Za-z0-9_-]{43}$/, 'secretHash must be SHA-256 of the secret, base64url (43 characters)')
      .optional(),
    /** Only tokens whose `aud` names one of these exist for this client (others introspect as inactive). Default: any. */
    audiences: z.array(z.string().min(1)).min(1).max(100).optional(),
    /** Only tokens whose `tenant` is one of these exist for this client (a token without one does not). Default: any. */
    tenants: z.array(tenantSchema).min(1).max(1000).optional(),
    /** Introspection answers carry the token's `tenant` claim (when it has one). Default: false. */
    includeTenant: z.boolean().default(false),
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

export type OidcOptions = z.input<typeof oidcSchema>;
export type ResolvedOidcOptions = Readonly<z.output<typeof oidcSchema>>;

/** A fixed window (rate-limiter-flexible counts whole seconds: windows are rounded up to a second). */
const limitSchema = z.strictObject({
  limit: z.number().int().positive(),
  windowMs: z.number().int().min(1000, 'windowMs must be at least 1000 (rate limits count whole seconds)'),
});

const RATE_LIMIT_DEFAULTS = {
  perIp: { limit: 30, windowMs: 60_000 },
  perAccountAndIp: { limit: 5, windowMs: 15 * 60_000 },
  perAccount: { limit: 100, windowMs: 15 * 60_000 },
  perKnownDevice: { limit: 5, windowMs: 15 * 60_000 },
  refreshPerIp: { limit: 1200, windowMs: 60_000 },
  refreshPerSession: { limit: 60, windowMs: 60_000 },
  oidcLoginPerIp: { limit: 30, windowMs: 60_000 },
  clientAuthPerIp: { limit: 20, windowMs: 60_000 },
  clientAuthPerClient: { limit: 100, windowMs: 60_000 },
} as const;

// Strict everywhere: a misspelt option (`accessTokenTTLSeconds`) must fail loudly, not silently keep a default.
const optionsSchema = z.strictObject({
  store: z.custom<SessionStore>((v) => typeof v === 'object' && v !== null && typeof (v as SessionStore).rotate === 'function', {
    message: 'store must implement SessionStore',
  }),
  /** Newest first. The first signs cookies and seals the key ring; the others are still accepted (secret rotation). */
  secrets: z.array(secret).min(1),
  authenticate: z.custom<Authenticate>((v) => typeof v === 'function', { message: 'authenticate must be a function' }),
  /** Sign-in through an upstream OpenID Connect provider (routes under `/oidc`); see the README's "Identity provider". */
  oidc: oidcSchema.optional(),
  issuer: z.url(),
  /** Defaults to the issuer. */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  clientId: z.string().min(1).default('latchkey'),
  algorithm: z.enum(['ES256', 'EdDSA']).default('ES256'),
  accessTokenTtlSeconds: positiveSeconds.max(3600).default(300),
  /** Tolerance for exp, nbf and iat. Bounded: a large skew is a long-lived token in disguise. */
  clockSkewSeconds: z.number().int().min(0).max(120).default(5),
  idleTimeoutSeconds: positiveSeconds.default(7 * 24 * 3600),
  absoluteTimeoutSeconds: positiveSeconds.default(30 * 24 * 3600),
  /**
   * Live device sessions per user. A login beyond it ends the user's least recently active session (like a
   * revocation: its tokens stop working at once), so one account cannot grow the session list (and the scripts that
   * read it) without bound.
   */
  maxSessionsPerUser: z.number().int().min(1).max(1000).default(50),
  /** How long a refresh with the just-superseded credential is answered (concurrent tabs, lost responses). */
  rotationGraceSeconds: z.number().int().min(0).max(120).default(15),
  cookieName: z
    .string()
    .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/)
    .optional(),
  /**
   * Origins allowed to call the cookie routes (an `Origin` header, when present, must be one of them).
   * Default outside production: the BFF's own origin, as the request's protocol and Host show it. Required when
   * NODE_ENV=production: the Host header is the client's to choose (DNS rebinding), so it cannot vouch for the Origin.
   */
  allowedOrigins: z.array(z.url()).optional(),
  /**
   * Answer CORS (credentials, preflight for X-CSRF) for exactly the allowedOrigins, for pages on another origin of the
   * same site (app.example.com calling auth.example.com). Off by default: being allowed to send is not being allowed
   * to read token responses, so reading is granted explicitly. Requires allowedOrigins. See docs/deployment.md.
   */
  cors: z.boolean().default(false),
  /** Plain-http development only: drops `Secure` and the `__Host-` prefix. Warns at startup. */
  dangerouslyAllowInsecureHttp: z.boolean().default(false),
  maxTokenBytes: z.number().int().min(512).max(16384).default(4096),
  /**
   * Counted in the store's backend (rate-limiter-flexible; Redis in Redis mode, shared by every instance), 429 with
   * Retry-After when over. When a login counter cannot answer, login answers 503 before any password check (never a
   * pass); see docs/security.md, "Rate limits", for refresh.
   */
  rateLimit: z
    .strictObject({
      /** Login attempts per client IP. */
      perIp: limitSchema.default(RATE_LIMIT_DEFAULTS.perIp),
      /** Failed login attempts on one account from one client IP: what stops a guesser without locking the owner out. */
      perAccountAndIp: limitSchema.default(RATE_LIMIT_DEFAULTS.perAccountAndIp),
      /** Failed login attempts on one account from all IPs together: the ceiling against guessing from many addresses. */
      perAccount: limitSchema.default(RATE_LIMIT_DEFAULTS.perAccount),
      /**
       * Failed logins from one known device of the account (a browser holding the device cookie a successful login of
       * that account set), counted instead of perAccountAndIp and perAccount: the owner's devices are never locked out
       * by guesses from elsewhere.
       */
      perKnownDevice: limitSchema.default(RATE_LIMIT_DEFAULTS.perKnownDevice),
      /**
       * Refreshes per client IP. Generous: a browser refreshes once per access-token lifetime and page load, and many
       * users can share one address (NAT). A 429 never signs anyone out: the client retries it like a 503.
       */
      refreshPerIp: limitSchema.default(RATE_LIMIT_DEFAULTS.refreshPerIp),
      /** Refreshes per device session (counted for well-signed cookies only). */
      refreshPerSession: limitSchema.default(RATE_LIMIT_DEFAULTS.refreshPerSession),
      /** Sign-in starts at the identity provider (`GET /oidc/login`) per client IP; each writes a login transaction. */
      oidcLoginPerIp: limitSchema.default(RATE_LIMIT_DEFAULTS.oidcLoginPerIp),
      /** Failed resource-client authentications (`/introspect`, `/revoke`) from one client IP. */
      clientAuthPerIp: limitSchema.default(RATE_LIMIT_DEFAULTS.clientAuthPerIp),
      /**
       * Failed authentications as one resource client, from all IPs; addresses this instance saw the client
       * authenticate from are exempt (its own servers are not locked out by guesses from elsewhere).
       */
      clientAuthPerClient: limitSchema.default(RATE_LIMIT_DEFAULTS.clientAuthPerClient),
    })
    .default(RATE_LIMIT_DEFAULTS),
  /**
   * Fail policy per scope: a route that requires scopes uses the strictest policy among its scopes that have one
   * (closed beats open; the smaller staleness bound wins), instead of its own default.
   */
  scopePolicies: z.record(z.string().regex(SCOPE_TOKEN, 'a scope is printable ASCII without spaces, quotes or backslashes'), failPolicySchema).default({}),
  /** Bound on the JSON size of the custom claims and scope `authenticate` returns (they ride in every access token). */
  /** Default: 1024, or less when maxTokenBytes leaves less room. */
  maxClaimsBytes: z.number().int().min(0).max(8192).optional(),
  /** `GET /events` (server-sent events): connection caps and timing. */
  eventStreams: z
    .strictObject({
      /** Open streams per user (one per browser is the client's norm; several devices each hold one). */
      maxPerUser: z.number().int().positive().default(10),
      /**
       * Open streams per device session (one, plus a reconnect that overlaps the old stream's close): one device
       * cannot take the user's whole maxPerUser and leave the other devices without pushes.
       */
      maxPerDevice: z.number().int().positive().default(3),
      /** Open streams in this process; beyond it, 503 with Retry-After (another instance may have room). */
      maxPerProcess: z.number().int().positive().default(10_000),
      /** A comment line this often keeps proxies and load balancers from closing an idle stream. */
      heartbeatSeconds: z.number().positive().max(300).default(15),
      /** The `retry:` the browser waits before reconnecting a dropped stream, ms. */
      retryMs: z.number().int().min(100).max(60_000).default(2000),
    })
    .default({ maxPerUser: 10, maxPerDevice: 3, maxPerProcess: 10_000, heartbeatSeconds: 15, retryMs: 2000 }),
  /**
   * Servers allowed to call `POST /introspect` and `POST /revoke` (docs/introspection.md). Unset or empty: both
   * routes answer 404.
   */
  resourceClients: z
    .array(resourceClientSchema)
    .max(100)
    .refine((clients) => new Set(clients.map((c) => c.id)).size === clients.length, 'resource client ids must be unique')
    .default([]),
  logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null && typeof (v as Logger).info === 'function').optional(),
  /**
   * The time of day every expiry decision uses (sessions, tokens, markers, keys). For tests only (a TestClock they
   * move instead of sleeping; give the MemoryStore the same one): production code never sets it. See docs/time.md.
   */
  clock: z.custom<Clock>(isClock, { message: 'clock must have a now() method' }).optional(),
  /** OpenTelemetry spans through `@opentelemetry/api` when it is installed (docs/tracing.md). */
  tracing: z
    .strictObject({
      /** false: never loads `@opentelemetry/api`, no spans whatever the application registered. */
      enabled: z.boolean().default(true),
      /** Spans carry `user.id` (the application's user id: personal data, so off unless asked for). */
      recordUserId: z.boolean().default(false),
      /** Default: the global provider the application registered (`trace.getTracer`). */
      tracerProvider: z
        .custom<TracerProviderLike>((v) => typeof v === 'object' && v !== null && typeof (v as TracerProviderLike).getTracer === 'function', {
          message: 'tracerProvider must have getTracer()',
        })
        .optional(),
    })
    .default({ enabled: true, recordUserId: false }),
});

export type BffOptions = z.input<typeof optionsSchema>;
export type ScopeFailPolicy = z.input<typeof failPolicySchema>;

export interface ResolvedBffOptions extends Omit<
  z.output<typeof optionsSchema>,
  'audience' | 'cookieName' | 'logger' | 'scopePolicies' | 'maxClaimsBytes' | 'resourceClients' | 'clock'
> {
  clock: Clock;
  /** Each client's id, the SHA-256 (base64url) of its secret, and which tokens it may see. */
  resourceClients: readonly ResolvedResourceClient[];
  maxClaimsBytes: number;
  scopePolicies: Readonly<Record<string, Readonly<z.output<typeof failPolicySchema>>>>;
  audience: string | readonly string[];
  cookieName: string;
  cookie: Readonly<{ secure: boolean; sameSite: 'strict'; httpOnly: true; path: '/' }>;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((key) => (where ? `${where}.${key}` : key));
    return `unknown option${names.length > 1 ? 's' : ''} ${names.map((n) => `"${n}"`).join(', ')}`;
  }
  return `${where || 'options'}: ${issue.message}`;
}

/** Validates every option once and returns a frozen, fully-defaulted object. Throws a readable error on bad input. */
export function resolveBffOptions(input: BffOptions): Readonly<ResolvedBffOptions> & { logger?: Logger } {
  const parsed = optionsSchema.safeParse(input);
  if (!parsed.success) {
    const detail = parsed.error.issues.map(describeIssue).join('; ');
    throw new TypeError(`Invalid Latchkey BFF options: ${detail}`);
  }
  const o = parsed.data;
  if (o.absoluteTimeoutSeconds < o.idleTimeoutSeconds) {
    throw new TypeError('Invalid Latchkey BFF options: absoluteTimeoutSeconds must be >= idleTimeoutSeconds');
  }
  if (o.allowedOrigins === undefined && process.env.NODE_ENV === 'production') {
    throw new TypeError(
      'Invalid Latchkey BFF options: allowedOrigins is required when NODE_ENV=production. Without it the Origin check ' +
        "trusts the request's own Host header, which a DNS-rebinding page controls. List the origins of your pages, " +
        "for example allowedOrigins: ['https://app.example.com'].",
    );
  }
  if (o.cors && o.allowedOrigins === undefined) {
    throw new TypeError('Invalid Latchkey BFF options: cors needs allowedOrigins (the origins whose pages may call the BFF and read its answers)');
  }
  // Claims ride base64url-encoded (4/3) next to about 1 KB of registered claims, header and signature.
  const claimsRoom = Math.max(0, Math.floor(((o.maxTokenBytes - 1024) * 3) / 4));
  const maxClaimsBytes = o.maxClaimsBytes ?? Math.min(1024, claimsRoom);
  if (maxClaimsBytes > claimsRoom) {
    throw new TypeError('Invalid Latchkey BFF options: maxClaimsBytes is too large for maxTokenBytes (tokens with those claims would be refused)');
  }
  const insecure = o.dangerouslyAllowInsecureHttp;
  // `__Host-` requires Secure; a plain-http cookie must not claim the prefix or browsers drop it.
  const cookieName = o.cookieName ?? (insecure ? DEFAULT_COOKIE_NAME.replace(/^__Host-/, '') : DEFAULT_COOKIE_NAME);
  if (!insecure && !cookieName.startsWith('__Host-')) {
    throw new TypeError('Invalid Latchkey BFF options: cookieName must start with __Host- (or set dangerouslyAllowInsecureHttp)');
  }
  return Object.freeze({
    ...o,
    audience: Object.freeze(o.audience ?? o.issuer) as string | readonly string[],
    secrets: Object.freeze([...o.secrets]) as unknown as string[],
    allowedOrigins: o.allowedOrigins ? (Object.freeze(o.allowedOrigins.map((u) => new URL(u).origin)) as unknown as string[]) : undefined,
    cookieName,
    maxClaimsBytes,
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
    oidc: o.oidc ? Object.freeze({ ...o.oidc, scopes: Object.freeze([...o.oidc.scopes]) as unknown as string[] }) : undefined,
    tracing: Object.freeze({ ...o.tracing }),
    cookie: Object.freeze({ secure: !insecure, sameSite: 'strict' as const, httpOnly: true as const, path: '/' as const }),
  });
}
