import { decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRoute } from '../http/exchange.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { createPlainFormParser } from '../http/form-body.js';
import type { IdentityProviders } from '../oidc/providers.js';
import { defaultMapUser } from '../oidc/map-user.js';
import { endSessions } from '../session/end.js';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const MAX_LOGOUT_TOKEN = 8192;
/** The form body is one signed token; anything bigger is refused before parsing. */
const BODY_LIMIT = '8kb';

/**
 * POST /oidc/backchannel-logout (OpenID Connect Back-Channel Logout 1.0): a server-to-server call from the IdP, form
 * encoded `logout_token`, with no cookie and no X-CSRF header (the signed token is the authentication).
 * One route for every OpenID Connect provider: the token's (unverified) `iss` picks the provider, and everything after
 * is that provider's: its JWKS, its issuer, its client id as the audience, its mapUser. A token signed by provider A
 * naming B's issuer fails B's signature check; a token of A ends only sessions A started (their IdP link has A's iss).
 * Verifies the token (jose, the IdP's JWKS from discovery; iss, aud = clientId, iat, exp when present, typ
 * `logout+jwt` when present, or always with `requireLogoutTokenTyp`, the back-channel logout event, no nonce, sid and/or sub), refuses a replayed jti, then
 * ends the device sessions of that IdP session (`sid`) or, for a `sub`-only token, every session of the user
 * (mapUser of `{ iss, sub }`, as logout-all). Both go through the store's revocation log like any other revocation.
 * 200 on success; 400 `{ error, error_description }` on a bad token, with nothing changed.
 */
export function createBackchannelLogoutRoute(ctx: BffContext, idps: IdentityProviders): AuthRoute {
  // A body of another type is left unread (and has no logout_token).
  const parseForm = createPlainFormParser(BODY_LIMIT);
  return async (req, reply) => {
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    req.body = await parseForm(req.bodySource);
    const logoutToken = (req.body as Record<string, unknown> | undefined)?.logout_token;
    if (typeof logoutToken !== 'string' || logoutToken === '' || logoutToken.length > MAX_LOGOUT_TOKEN) {
      throw badToken('logout_token is required (application/x-www-form-urlencoded).');
    }
    const idp = idps.byIssuer(unverifiedIssuer(logoutToken));
    if (!idp) throw badToken('The logout token is not from a configured identity provider.');
    const mapUser = idp.options.mapUser ?? defaultMapUser;
    const metadata = (await idp.config()).serverMetadata();
    // Logout tokens are signed like ID tokens. Anyone can POST one: an unknown kid refetches the JWKS at most once per cooldown.
    const algorithms = await idp.signingAlgorithms();
    const keys = (await idp.signingKeys()).getKey('cooldown');
    const windowSeconds = idp.options.logoutTokenReplayWindowSeconds;
    const skewSeconds = ctx.options.tokens.clockSkewSeconds;

    let payload: JWTPayload;
    let typ: string | undefined;
    try {
      ({
        payload,
        protectedHeader: { typ },
      } = await jwtVerify(logoutToken, keys, {
        issuer: metadata.issuer,
        audience: idp.options.clientId,
        algorithms,
        requiredClaims: ['iat', 'jti', 'events'],
        // Bounds the replay window: a token is accepted until iat + window + skew, and its jti remembered as long.
        maxTokenAge: `${windowSeconds}s`,
        clockTolerance: skewSeconds,
        currentDate: new Date(ctx.now()),
      }));
    } catch (error) {
      // The JWKS could not be fetched: 503 (the IdP retries), not a verdict on the token.
      if (error instanceof LatchkeyError) throw error;
      throw badToken('The logout token is invalid.', error);
    }
    if (typ === undefined ? idp.options.requireLogoutTokenTyp : !/^(application\/)?logout\+jwt$/i.test(typ)) {
      throw badToken('The logout token has the wrong typ.');
    }
    const events = payload.events as Record<string, unknown> | undefined;
    const event = typeof events === 'object' && events !== null ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw badToken('The logout token lacks the back-channel logout event.');
    if ('nonce' in payload) throw badToken('A logout token must not carry a nonce.');
    const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
    const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
    if (sid === undefined && sub === undefined) throw badToken('The logout token names neither sid nor sub.');
    if (typeof payload.jti !== 'string' || payload.jti === '') throw badToken('The logout token has no jti.');

    const iss = metadata.issuer;
    // jose accepts it while floor(now / 1 s) <= iat + window + skew: the jti is remembered until that second has passed.
    const acceptedUntil = (payload.iat! + windowSeconds + skewSeconds + 1) * 1000;
    if (!(await ctx.store.useOnce(`bcl\n${iss}\n${payload.jti}`, acceptedUntil - ctx.now()))) {
      throw badToken('The logout token was already used.');
    }
    const notice = { reason: 'backchannel', event: 'oidc_backchannel_logout', message: 'back-channel logout', log: 'summary' } as const;
    if (sid !== undefined) {
      await endSessions(
        ctx,
        { idpIss: iss, idpSid: sid },
        { ...notice, fields: (ended) => ({ by: 'sid', provider: idp.options.name, ended: ended.map((s) => s.sid) }) },
      );
    } else {
      const user = await mapUser({ iss, sub: sub! });
      await endSessions(ctx, user === null ? { alreadyEnded: [] } : { allOfUser: user.id }, {
        ...notice,
        fields: (ended) => ({ by: 'sub', provider: idp.options.name, userId: user?.id, ended: ended.map((s) => s.sid) }),
      });
    }
    return reply.send(200);
  };
}

/** The `iss` the token claims, only to pick whose keys must have signed it; empty when it has none. */
function unverifiedIssuer(token: string): string {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : '';
  } catch (error) {
    throw badToken('The logout token is invalid.', error);
  }
}

function badToken(message: string, cause?: unknown): LatchkeyError {
  return new LatchkeyError('invalid_request', message, { oauthBody: true, ...(cause === undefined ? {} : { cause }) });
}
