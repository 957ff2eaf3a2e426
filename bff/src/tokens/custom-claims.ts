import { z } from 'zod';

/**
 * The application's own access-token claims. Empty here; an application declares its claims by module augmentation,
 * and `authenticate` must then return them and `req.auth` carries them:
 *
 * ```ts
 * declare module '@latchkey/bff' {
 *   interface LatchkeyClaims { tenant: string }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- empty until the application augments it
export interface LatchkeyClaims {}

/**
 * Claims Latchkey sets itself (and JWT header/registered names): an application claim may never replace them, or a
 * login could mint a token for another subject, session or audience. `scope` is set from `authenticate`'s `scope`.
 * `act` and `may_act` (RFC 8693 token exchange) say who acts for the subject: a resource server that honours them
 * would take an application claim for a delegation Latchkey never made.
 */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'sid',
  'jti',
  'iat',
  'exp',
  'nbf',
  'client_id',
  'typ',
  'scope',
  'alg',
  'kid',
  'cnf',
  'auth_time',
  'acr',
  'amr',
  'azp',
  'nonce',
  'at_hash',
  'act',
  'may_act',
]);

/** RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Bounds that keep a token well under the guard's size cap and the session record small. */
export const MAX_SCOPES = 64;
export const MAX_SCOPE_LENGTH = 128;

const scopeToken = z.string().max(MAX_SCOPE_LENGTH).regex(SCOPE_TOKEN, 'a scope is printable ASCII without spaces, quotes or backslashes');

/** `"a b"` or `['a', 'b']` → the distinct scopes, in order. */
export const scopeListSchema = z
  .union([
    z
      .string()
      .max(MAX_SCOPES * (MAX_SCOPE_LENGTH + 1))
      .transform((s) => s.split(' ').filter(Boolean)),
    z.array(z.string()),
  ])
  .pipe(z.array(scopeToken).max(MAX_SCOPES))
  .transform((scopes) => [...new Set(scopes)]);

const claimName = z.string().min(1).max(64);

/**
 * A tenant name: what `admin.revokeTenant` addresses and a tenant-bound admin token is limited to. Normalised to NFC
 * (one spelling per name: a decomposed `é` is the composed one), then bounded text without control or format
 * characters (Unicode Cc and Cf: an invisible `acme\u200b` would be another tenant that survives the revocation of
 * `acme`). Every way a tenant enters goes through it: the grant, the admin routes, `admin.revokeTenant`.
 */
export const tenantSchema = z
  .string()
  .transform((name) => name.normalize('NFC'))
  .pipe(
    z
      .string()
      .min(1)
      .max(256)
      .regex(/^[^\p{Cc}\p{Cf}]+$/u, 'a tenant is text without control or format characters'),
  );

const grantSchema = z.object({ claims: z.record(claimName, z.json()), scope: scopeListSchema, tenant: tenantSchema.optional() });

/** What `authenticate` may add to a user: extra claims and scopes, both copied into every access token of the session. */
export interface GrantedClaims {
  claims?: LatchkeyClaims & Record<string, unknown>;
  /** Space-separated (`'read:feed admin'`) or an array. */
  scope?: string | readonly string[];
  /**
   * The user's tenant (organisation, customer): kept on the device session and carried in every access token as the
   * `tenant` claim, so `admin.revokeTenant` can end the tenant's sessions and reject its tokens. A string `tenant`
   * in `claims` means the same (it must then agree with this one).
   */
  tenant?: string;
}

/**
 * Validates what the application granted and returns the claims to persist on the device session (and put in every
 * access token it gets, refreshes included): the custom claims plus `scope` as one space-separated string.
 * Throws a TypeError naming the problem: a bad grant is a bug in the application, never a client's fault.
 */
export function resolveGrantedClaims(granted: GrantedClaims, maxBytes: number): Record<string, unknown> | undefined {
  const reserved = Object.keys(granted.claims ?? {}).filter((name) => RESERVED_CLAIMS.has(name));
  if (reserved.length > 0) {
    throw new TypeError(`authenticate returned registered claims Latchkey sets itself (${reserved.join(', ')}); use other names`);
  }
  const claimedTenant = (granted.claims as Record<string, unknown> | undefined)?.tenant;
  // Compared as normalised: two spellings of one name agree.
  const spelling = (name: unknown) => (typeof name === 'string' ? name.normalize('NFC') : name);
  if (claimedTenant !== undefined && granted.tenant !== undefined && spelling(claimedTenant) !== spelling(granted.tenant)) {
    throw new TypeError('authenticate returned a tenant and a different claims.tenant; return one of them');
  }
  const parsed = grantSchema.safeParse({ claims: granted.claims ?? {}, scope: granted.scope ?? [], tenant: granted.tenant ?? claimedTenant });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new TypeError(`authenticate returned invalid claims or scope (${problems})`);
  }
  const result: Record<string, unknown> = { ...parsed.data.claims };
  // The tenant rides in the token as a claim; the guard checks it against tenant revocations.
  if (parsed.data.tenant !== undefined) result.tenant = parsed.data.tenant;
  if (parsed.data.scope.length > 0) result.scope = parsed.data.scope.join(' ');
  if (Object.keys(result).length === 0) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(result));
  if (bytes > maxBytes) throw new TypeError(`authenticate returned ${bytes} bytes of claims and scope; tokens.maxClaimsBytes is ${maxBytes}`);
  return result;
}

/** The scopes of a token's `scope` claim. */
export function scopesOf(scope: unknown): ReadonlySet<string> {
  return new Set(typeof scope === 'string' ? scope.split(' ').filter(Boolean) : []);
}
