import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { IdpClaims, ResolvedIdpProvider } from '../options.js';
import { authenticationStamp } from '../session/authentication-stamp.js';
import { resolveSession } from '../session/resolve.js';
import type { DeviceSessionRecord, IdpTokenUpdate } from '../store/types.js';
import type { ProviderSignIn } from './oidc-sign-in.js';
import { SCOPE_TOKEN } from '../tokens/custom-claims.js';

/**
 * Step-up and authentication age at the IdP (RFC 9470 with OIDC's `prompt`, `max_age`, `acr_values`). Kept apart
 * from the login and callback routes: they call `authenticationRequest` and `checkAuthenticationAge` /
 * `restampAtIdp`, and the rest of their work does not change.
 */

/** What a login transaction remembers about the authentication it asked for. */
export interface AuthenticationRequest {
  /** `GET /oidc/login?reauth=1`: the device session to re-stamp in the callback (public ids; its cookie came with the login). */
  reauth?: { userId: string; sid: string };
  /** The `max_age` sent (seconds), checked against the ID token's `auth_time`. */
  maxAge?: number;
  /** When the transaction started (epoch ms): a re-authentication must have happened after it. */
  startedAt: number;
}

const MAX_ACR_VALUES = 8;

/**
 * The parameters for the authorization request, and what the callback checks. `max_age` is the provider's `maxAuthAgeSeconds`
 * on every sign-in; a re-authentication (`reauth=1`, which needs a live session in this browser, else 401
 * `no_session`) adds `prompt=login` and `max_age=0` (the user authenticates again whatever the IdP session), and
 * `acr_values` when the query asks for them (space-separated, as the step-up challenge gave them).
 */
export async function authenticationRequest(
  ctx: BffContext,
  provider: ResolvedIdpProvider,
  cookieHeader: string | undefined,
  query: Record<string, unknown>,
): Promise<{ params: Record<string, string>; request: AuthenticationRequest }> {
  const startedAt = ctx.now();
  const acrValues = parseAcrValues(query.acr_values);
  if (query.reauth === undefined) {
    if (acrValues !== undefined) throw new LatchkeyError('invalid_request', 'acr_values goes with reauth=1.');
    const maxAge = provider.type === 'oidc' ? provider.maxAuthAgeSeconds : undefined;
    return { params: maxAge !== undefined ? { max_age: String(maxAge) } : {}, request: { startedAt, ...(maxAge !== undefined ? { maxAge } : {}) } };
  }
  if (query.reauth !== '1') throw new LatchkeyError('invalid_request', 'reauth must be 1.');
  // Only an ID token says when the user authenticated: a plain OAuth 2.0 provider cannot re-authenticate anyone.
  if (provider.type !== 'oidc') throw new LatchkeyError('invalid_request', 'Re-authentication needs an OpenID Connect provider.');
  const resolved = await resolveSession(ctx, cookieHeader);
  if (resolved === null) throw new LatchkeyError('no_session');
  const { userId, sid } = resolved.session;
  return {
    params: { prompt: 'login', max_age: '0', ...(acrValues ? { acr_values: acrValues.join(' ') } : {}) },
    request: { reauth: { userId, sid }, maxAge: 0, startedAt },
  };
}

function parseAcrValues(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const values = typeof value === 'string' ? value.split(' ').filter(Boolean) : [];
  if (values.length === 0 || values.length > MAX_ACR_VALUES || !values.every((v) => v.length <= 256 && SCOPE_TOKEN.test(v))) {
    throw new LatchkeyError('invalid_request', 'acr_values must be space-separated printable values.');
  }
  return values;
}

/**
 * The ID token's `auth_time` against what was asked: with a `max_age`, it must be present and at most that old (plus
 * the clock skew); for a re-authentication, no earlier than the transaction (the user authenticated again just now,
 * not on an older IdP session). Null when it holds, else why not (the callback refuses the sign-in).
 */
export function authenticationAgeProblem(ctx: BffContext, request: AuthenticationRequest | undefined, claims: IdpClaims): string | null {
  if (request?.maxAge === undefined) return null;
  const skewMs = ctx.options.tokens.clockSkewSeconds * 1000;
  const authTime = typeof claims.auth_time === 'number' && Number.isFinite(claims.auth_time) ? claims.auth_time * 1000 : undefined;
  if (authTime === undefined) return 'The identity provider did not say when the user authenticated (auth_time).';
  if (ctx.now() - authTime > request.maxAge * 1000 + skewMs) return 'The identity provider’s authentication is older than allowed (max_age).';
  // auth_time has a one-second resolution: a sign-in within the transaction's second counts.
  if (request.reauth && authTime < Math.floor(request.startedAt / 1000) * 1000 - skewMs) return 'The identity provider did not authenticate the user again.';
  return null;
}

/**
 * The callback of a re-authentication: the same device session, re-stamped (auth_time, acr, amr from the ID token
 * or mapUser) with the IdP's fresh tokens, when the IdP user is the one that session belongs to (same user id and,
 * for a session the IdP started, the same `iss` and `sub`). Anyone else is refused and nothing changes: a step-up
 * must never switch accounts. Returns the re-stamped session.
 */
export async function restampAtIdp(
  ctx: BffContext,
  reauth: NonNullable<AuthenticationRequest['reauth']>,
  signedIn: ProviderSignIn,
): Promise<DeviceSessionRecord> {
  const { user, idp: link, idToken } = signedIn;
  if (!link || !idToken) throw new LatchkeyError('oidc_login_failed', 'The identity provider sent no ID token.');
  const claims = idToken;
  const tokens: IdpTokenUpdate = link;
  const session = (await ctx.store.listUserSessions(reauth.userId, ctx.now())).find((s) => s.sid === reauth.sid);
  const sameUser = user.id === reauth.userId && session !== undefined && session.idp?.iss === link.iss && session.idp.sub === link.sub;
  if (!sameUser) {
    if (session === undefined) throw new LatchkeyError('no_session');
    ctx.logger.warn({ event: 'reauthentication_failed', userId: reauth.userId, sid: reauth.sid, via: 'oidc' }, 'the IdP authenticated another user');
    throw new LatchkeyError('oidc_login_failed', 'The identity provider signed in another user than this session’s. Nothing was changed.');
  }
  // An answer without a refresh token (or ID token) keeps the session's: it still renews as before.
  const idp: IdpTokenUpdate = {
    refreshTokenSealed: tokens.refreshTokenSealed ?? session.idp!.refreshTokenSealed,
    idTokenSealed: tokens.idTokenSealed ?? session.idp!.idTokenSealed,
    // The fresh access token (proxy `token: 'idp'` attaches it): the old one must not outlive its own expiry.
    ...(tokens.accessTokenSealed ? { accessTokenSealed: tokens.accessTokenSealed } : {}),
    accessExpiresAt: tokens.accessExpiresAt,
  };
  const restamped = await ctx.store.restampSession(reauth.userId, reauth.sid, { ...authenticationStamp(ctx.now(), user, claims), idp }, ctx.now());
  if (restamped === null) throw new LatchkeyError('no_session');
  ctx.logger.info({ event: 'reauthenticated', userId: reauth.userId, sid: reauth.sid, via: 'oidc' }, 're-authenticated');
  return restamped;
}
