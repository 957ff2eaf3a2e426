import { z } from 'zod';
import type { AuthenticatedUser } from '../options.js';

/**
 * The `oidc` option: the identity providers (OpenID Connect, and plain OAuth 2.0 ones such as GitHub), keyed by name,
 * validated here and resolved into one frozen list. Kept apart from options.ts: the providers' rules are their own.
 */

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

/**
 * The profile a plain OAuth 2.0 provider's userinfo endpoint answers (GitHub's `GET /user`, ...): its JSON as sent.
 * `userinfo` maps it to the application's user; null refuses the sign-in.
 */
export type MapUserInfo = (profile: Record<string, unknown>) => AuthenticatedUser | null | Promise<AuthenticatedUser | null>;

/** How this BFF authenticates at a provider's token endpoint: one field, so a configuration cannot hold two. */
export type ClientAuth =
  | { method: 'client_secret_basic'; secret: string }
  | { method: 'client_secret_post'; secret: string }
  | { method: 'private_key_jwt'; privateJwk: Record<string, unknown> };

const clientAuthSchema = z
  .discriminatedUnion('method', [
    z.strictObject({ method: z.literal('client_secret_basic'), secret: z.string().min(1) }),
    z.strictObject({ method: z.literal('client_secret_post'), secret: z.string().min(1) }),
    z.strictObject({ method: z.literal('private_key_jwt'), privateJwk: z.record(z.string(), z.unknown()) }),
  ])
  .meta({
    typeName: "`{ method: 'client_secret_basic' | 'client_secret_post', secret }` | `{ method: 'private_key_jwt', privateJwk }`",
    description:
      'client authentication at the token endpoint; `privateJwk`: the private JWK (with `alg`, or ES256/RS256 inferred from `kty`); the secret is never logged',
  });

/** A provider's name: what `?provider=` and the per-provider callback path carry. */
export const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const OIDC_DEFAULT_SCOPES = ['openid', 'profile', 'email'];

const providerSchema = z
  .strictObject({
    type: z
      .enum(['oidc', 'oauth'])
      .default('oidc')
      .describe(
        '`oidc`: an OpenID Connect provider (discovery, ID token, back-channel and RP-initiated logout); `oauth`: plain OAuth 2.0 (GitHub-style: no ID token, a userinfo endpoint)',
      ),
    issuer: z.url().optional().meta({
      defaultText: 'required for `oidc`',
      description:
        "the provider's issuer; its discovery document is read from `<issuer>/.well-known/openid-configuration` on first use (the BFF starts while the IdP is down; its routes answer 503 until it is back); one provider per issuer",
    }),
    authorizationEndpoint: z.url().optional().meta({ defaultText: 'required for `oauth`', description: '`oauth`: the authorization endpoint' }),
    tokenEndpoint: z.url().optional().meta({ defaultText: 'required for `oauth`', description: '`oauth`: the token endpoint' }),
    userinfoEndpoint: z.url().optional().meta({
      defaultText: 'required for `oauth`',
      description: "`oauth`: the endpoint answering the user's profile as JSON for the access token (`Authorization: Bearer`)",
    }),
    clientId: z.string().min(1).describe("this BFF's client id at the provider"),
    clientAuth: clientAuthSchema,
    scopes: z.array(z.string().regex(SCOPE)).optional().meta({
      defaultText: "`['openid', 'profile', 'email']` (`oidc`), `[]` (`oauth`)",
      description: 'scopes asked of the provider; `oidc`: must include `openid` (Auth0 and others issue a refresh token only with `offline_access`)',
    }),
    redirectUri: z
      .url()
      .describe(
        "this BFF's callback as registered at the provider: `https://app.example.com/auth/oidc/callback`, or `.../oidc/callback/<name>`; with several providers each needs its own, all but one ending in `/oidc/callback/<name>` (docs/oidc.md#several-providers)",
      ),
    postLogoutRedirectUri: z.url().optional().meta({
      defaultText: 'unset: logout stays local (204)',
      description: '`oidc`: where the IdP sends the browser after an RP-initiated logout; turns that logout on (docs/oidc.md)',
    }),
    mapUser: z
      .custom<MapUser>((v) => typeof v === 'function', { message: 'mapUser must be a function' })
      .optional()
      .meta({
        typeName: '`(claims) => { id, name, claims?, scope?, tenant? } | null`',
        defaultText: 'id `${iss}|${sub}`, name from `name`, `preferred_username`, `email`, then `sub`',
        description:
          "`oidc`: maps the IdP's user to the application's (the id and name reach the page and the id the logs); null refuses the sign-in; a back-channel logout without `sid` calls it with `{ iss, sub }` only",
      }),
    userinfo: z
      .custom<MapUserInfo>((v) => typeof v === 'function', { message: 'userinfo must be a function' })
      .optional()
      .meta({
        typeName: '`(profile) => { id, name, claims?, scope?, tenant? } | null`',
        defaultText: 'required for `oauth`',
        description:
          "`oauth`: maps the userinfo endpoint's JSON to the application's user; null refuses the sign-in; namespace the id (`github|${profile.id}`): ids are unique per provider only",
      }),
    refreshMarginSeconds: z.number().int().min(0).max(3600).default(30).describe('`oidc`: renew at the IdP when its access token expires within this margin'),
    requestTimeoutMs: z.number().int().positive().max(60_000).default(5000).describe('deadline of each request to the provider; past it the BFF answers 503'),
    logoutTokenReplayWindowSeconds: positiveSeconds
      .max(24 * 3600)
      .default(600)
      .describe('`oidc`: how old (by its `iat`) a back-channel logout token may be; its `jti` is remembered until then plus `tokens.clockSkewSeconds`'),
    dangerouslyAllowInsecureIdpRequests: z
      .boolean()
      .default(false)
      .describe('allows an `http://` provider (the development IdP, tests); never in production; warns at startup'),
    // Step-up and session lifetime at the IdP: kept together at the end of the provider's options.
    maxAuthAgeSeconds: positiveSeconds.optional().meta({
      defaultText: 'unset',
      description:
        '`oidc`: sent as `max_age` at every sign-in; the callback refuses an ID token whose `auth_time` is older (plus `clockSkewSeconds`), so the IdP must have authenticated the user that recently (docs/oidc.md#step-up-and-re-authentication)',
    }),
    recheckWithoutRefreshTokenSeconds: positiveSeconds
      .max(30 * 24 * 3600)
      .default(12 * 3600)
      .describe(
        '`oidc`: a session whose IdP issued no refresh token cannot be renewed at the IdP: it ends (`session_expired` at its next refresh) this long after its last authentication there, so the page signs in at the IdP again (silently while the IdP session lasts) (docs/oidc.md#step-up-and-re-authentication)',
      ),
    requireLogoutTokenTyp: z
      .boolean()
      .default(false)
      .describe(
        '`oidc`: back-channel logout tokens must carry `typ: logout+jwt` in their header (OIDC Back-Channel Logout 1.0 §2.4, ASVS 10.5.5); off: a token without `typ` is accepted (a wrong one never is)',
      ),
  })
  .superRefine((p, ctx) => {
    const only = (type: 'oidc' | 'oauth', fields: readonly (keyof typeof p)[]) => {
      for (const field of fields) {
        if (p.type !== type && p[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `only for type '${type}'` });
        if (p.type === type && p[field] === undefined && field !== 'postLogoutRedirectUri' && field !== 'mapUser' && field !== 'maxAuthAgeSeconds') {
          ctx.addIssue({ code: 'custom', path: [field], message: `required for type '${type}'` });
        }
      }
    };
    only('oidc', ['issuer', 'postLogoutRedirectUri', 'mapUser', 'maxAuthAgeSeconds']);
    only('oauth', ['authorizationEndpoint', 'tokenEndpoint', 'userinfoEndpoint', 'userinfo']);
    if (p.type === 'oidc' && p.scopes !== undefined && !p.scopes.includes('openid'))
      ctx.addIssue({ code: 'custom', path: ['scopes'], message: 'scopes must include openid' });
  });

export const oidcSchema = z.strictObject({
  providers: z
    .record(z.string(), providerSchema)
    .superRefine((providers, ctx) => {
      if (Object.keys(providers).length === 0) ctx.addIssue({ code: 'custom', message: 'name at least one provider' });
      for (const name of Object.keys(providers)) {
        if (!PROVIDER_NAME.test(name))
          ctx.addIssue({ code: 'custom', path: [name], message: 'a provider name is 1-32 of a-z, 0-9, _ and - (it goes into URLs)' });
      }
    })
    .meta({
      keyName: 'name',
      description:
        'the identity providers, by name (`?provider=<name>` of `GET /oidc/login`, `signIn({ provider })`); one is enough: `{ providers: { corp: { issuer, clientId, clientAuth, redirectUri } } }` (docs/oidc.md#several-providers)',
    }),
  defaultProvider: z.string().optional().meta({
    defaultText: 'the only provider, when there is one',
    description: 'the provider `GET /oidc/login` uses without `?provider=`; with several providers and none named, that request is 400 `invalid_request`',
  }),
  transactionTtlSeconds: positiveSeconds.max(3600).default(600).describe('lifetime of the login transaction (state, nonce, PKCE verifier) and its cookie'),
  errorRedirect: z
    .union([z.literal(false), z.string().min(1).max(2048)])
    .optional()
    .meta({
      defaultText: "`returnTo` (or `'/'`)",
      description:
        'where a browser goes when a sign-in at the provider is cancelled or fails, with `?auth_error=<code>` added (303); a path or a URL on an allowed origin; `false`: always the JSON error; callers whose `Accept` prefers JSON get it anyway (docs/oidc.md#when-a-sign-in-fails)',
    }),
});

export type OidcOptions = z.input<typeof oidcSchema>;
export type OidcProviderOptions = z.input<typeof providerSchema>;

interface ResolvedProviderBase {
  /** The key under `providers`. */
  name: string;
  clientId: string;
  clientAuth: ClientAuth;
  scopes: readonly string[];
  redirectUri: string;
  /**
   * The provider's own callback path segment (`/oidc/callback/<name>`), or null for the shared `/oidc/callback` (or a
   * path of the application's own): a callback is only accepted on its provider's path (mix-up defence).
   */
  callbackName: string | null;
  requestTimeoutMs: number;
  dangerouslyAllowInsecureIdpRequests: boolean;
}

export interface ResolvedOidcProvider extends ResolvedProviderBase {
  type: 'oidc';
  issuer: string;
  postLogoutRedirectUri?: string;
  mapUser?: MapUser;
  refreshMarginSeconds: number;
  logoutTokenReplayWindowSeconds: number;
  /** Step-up: `max_age` of every sign-in, and the bound on the ID token's `auth_time`. */
  maxAuthAgeSeconds?: number;
  /** A session without an IdP refresh token ends this long after its last authentication at the IdP. */
  recheckWithoutRefreshTokenSeconds: number;
  /** Back-channel logout tokens must carry `typ: logout+jwt`. */
  requireLogoutTokenTyp: boolean;
}

export interface ResolvedOAuthProvider extends ResolvedProviderBase {
  type: 'oauth';
  authorizationEndpoint: string;
  tokenEndpoint: string;
  userinfoEndpoint: string;
  userinfo: MapUserInfo;
}

export type ResolvedIdpProvider = Readonly<ResolvedOidcProvider> | Readonly<ResolvedOAuthProvider>;

export type ResolvedOidcOptions = Readonly<{
  providers: readonly ResolvedIdpProvider[];
  /** Absent: `GET /oidc/login` must name a provider. */
  defaultProvider?: string;
  transactionTtlSeconds: number;
  /** undefined: back to returnTo (or `/`); false: JSON only. */
  errorRedirect?: string | false;
}>;

const CALLBACK = '/oidc/callback';

/** `/oidc/callback/<name>` gives `<name>`; anything else (the shared path, an application's own) null. */
function callbackNameOf(redirectUri: string): string | null {
  const path = new URL(redirectUri).pathname.replace(/\/$/, '');
  const at = path.lastIndexOf(`${CALLBACK}/`);
  if (at === -1) return null;
  const rest = path.slice(at + CALLBACK.length + 1);
  return rest.includes('/') ? null : rest;
}

/** Same issuer, whatever a trailing slash: `https://idp.example` and `https://idp.example/`. */
export function sameIssuer(a: string, b: string): boolean {
  return a === b || a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/**
 * The parsed `oidc` option as the routes use it: a frozen list of providers, each with its defaults applied. Throws a
 * message (without the options prefix) for a combination the schema cannot see: two providers on one issuer (a logout
 * token's `iss` picks its provider), two on one callback path (the mix-up defence), an unknown `defaultProvider`.
 */
export function resolveOidcOptions(o: z.output<typeof oidcSchema>): ResolvedOidcOptions {
  const providers = Object.entries(o.providers).map(([name, p]): ResolvedIdpProvider => {
    const callbackName = callbackNameOf(p.redirectUri);
    if (callbackName !== null && callbackName !== name) {
      throw new Error(`oidc.providers.${name}.redirectUri ends in ${CALLBACK}/${callbackName}: the name there must be the provider's own (${name})`);
    }
    const base = {
      name,
      clientId: p.clientId,
      clientAuth: Object.freeze({ ...p.clientAuth }) as ClientAuth,
      redirectUri: p.redirectUri,
      callbackName,
      requestTimeoutMs: p.requestTimeoutMs,
      dangerouslyAllowInsecureIdpRequests: p.dangerouslyAllowInsecureIdpRequests,
    };
    if (p.type === 'oauth') {
      return Object.freeze({
        ...base,
        type: 'oauth',
        scopes: Object.freeze([...(p.scopes ?? [])]),
        authorizationEndpoint: p.authorizationEndpoint!,
        tokenEndpoint: p.tokenEndpoint!,
        userinfoEndpoint: p.userinfoEndpoint!,
        userinfo: p.userinfo!,
      });
    }
    return Object.freeze({
      ...base,
      type: 'oidc',
      scopes: Object.freeze([...(p.scopes ?? OIDC_DEFAULT_SCOPES)]),
      issuer: p.issuer!,
      ...(p.postLogoutRedirectUri !== undefined ? { postLogoutRedirectUri: p.postLogoutRedirectUri } : {}),
      ...(p.mapUser !== undefined ? { mapUser: p.mapUser } : {}),
      refreshMarginSeconds: p.refreshMarginSeconds,
      logoutTokenReplayWindowSeconds: p.logoutTokenReplayWindowSeconds,
      ...(p.maxAuthAgeSeconds !== undefined ? { maxAuthAgeSeconds: p.maxAuthAgeSeconds } : {}),
      recheckWithoutRefreshTokenSeconds: p.recheckWithoutRefreshTokenSeconds,
      requireLogoutTokenTyp: p.requireLogoutTokenTyp,
    });
  });
  const oidcProviders = providers.filter((p) => p.type === 'oidc');
  for (const [i, p] of oidcProviders.entries()) {
    const twin = oidcProviders.slice(i + 1).find((q) => sameIssuer(q.issuer, p.issuer));
    if (twin)
      throw new Error(`oidc.providers.${p.name} and ${twin.name} have the same issuer: one provider per issuer (a logout token's iss picks its provider)`);
  }
  const callbackNames = providers.map((p) => p.callbackName);
  if (new Set(callbackNames).size !== callbackNames.length) {
    throw new Error(
      `with several providers each needs its own redirectUri, ending in ${CALLBACK}/<name> (one may keep ${CALLBACK}): a callback is accepted only on its provider's path (mix-up defence)`,
    );
  }
  const defaultProvider = o.defaultProvider ?? (providers.length === 1 ? providers[0]!.name : undefined);
  if (defaultProvider !== undefined && !providers.some((p) => p.name === defaultProvider)) {
    throw new Error(`oidc.defaultProvider names no provider (${defaultProvider})`);
  }
  if (typeof o.errorRedirect === 'string' && !isRedirectTarget(o.errorRedirect)) {
    throw new Error('oidc.errorRedirect must be a path on this site (/...) or an absolute http(s) URL');
  }
  return Object.freeze({
    providers: Object.freeze(providers),
    ...(defaultProvider !== undefined ? { defaultProvider } : {}),
    transactionTtlSeconds: o.transactionTtlSeconds,
    ...(o.errorRedirect !== undefined ? { errorRedirect: o.errorRedirect } : {}),
  });
}

function isRedirectTarget(value: string): boolean {
  if (value.startsWith('/')) return !value.startsWith('//') && !value.startsWith('/\\');
  try {
    return /^https?:$/.test(new URL(value).protocol);
  } catch {
    return false;
  }
}
