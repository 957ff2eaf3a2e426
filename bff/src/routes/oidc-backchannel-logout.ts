import type { RequestHandler } from 'express';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { idpUnavailable, type IdpClient } from '../oidc/idp-client.js';
import { defaultMapUser } from '../oidc/map-user.js';
import { endSessions } from '../session/end.js';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Logout tokens are signed like ID tokens; never with a shared secret or none. */
const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^ES256K$/;
const MAX_LOGOUT_TOKEN = 8192;

/**
 * POST /oidc/backchannel-logout (OpenID Connect Back-Channel Logout 1.0): a server-to-server call from the IdP, form
 * encoded `logout_token`, with no cookie and no X-CSRF header (the signed token is the authentication).
 * Verifies the token (jose, the IdP's JWKS from discovery; iss, aud = clientId, iat, exp when present, typ
 * `logout+jwt` when present, the back-channel logout event, no nonce, sid and/or sub), refuses a replayed jti, then
 * ends the device sessions of that IdP session (`sid`) or, for a `sub`-only token, every session of the user
 * (mapUser of `{ iss, sub }`, as logout-all). Both go through the store's revocation log like any other revocation.
 * 200 on success; 400 `{ error, error_description }` on a bad token, with nothing changed.
 */
export function createBackchannelLogoutHandler(ctx: BffContext, idp: IdpClient): RequestHandler {
  const mapUser = idp.options.mapUser ?? defaultMapUser;
  return async (req, res) => {
    const logoutToken = (req.body as Record<string, unknown> | undefined)?.logout_token;
    if (typeof logoutToken !== 'string' || logoutToken === '' || logoutToken.length > MAX_LOGOUT_TOKEN) {
      throw badToken('logout_token is required (application/x-www-form-urlencoded).');
    }
    const config = await idp.config();
    const metadata = config.serverMetadata();
    const algorithms = (metadata.id_token_signing_alg_values_supported ?? ['RS256']).filter((alg) => ASYMMETRIC.test(alg));
    const keys = await idp.signingKeys();

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
        // Bounds the replay window: a token older than this is refused, so remembering jtis that long is enough.
        maxTokenAge: `${idp.options.logoutTokenReplayWindowSeconds}s`,
        clockTolerance: ctx.options.clockSkewSeconds,
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWKSTimeout || error instanceof TypeError) throw idpUnavailable('jwks', error);
      throw badToken('The logout token is invalid.', error);
    }
    if (typ !== undefined && !/^(application\/)?logout\+jwt$/i.test(typ)) throw badToken('The logout token has the wrong typ.');
    const events = payload.events as Record<string, unknown> | undefined;
    const event = typeof events === 'object' && events !== null ? events[BACKCHANNEL_LOGOUT_EVENT] : undefined;
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw badToken('The logout token lacks the back-channel logout event.');
    if ('nonce' in payload) throw badToken('A logout token must not carry a nonce.');
    const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
    const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
    if (sid === undefined && sub === undefined) throw badToken('The logout token names neither sid nor sub.');
    if (typeof payload.jti !== 'string' || payload.jti === '') throw badToken('The logout token has no jti.');

    const iss = metadata.issuer;
    if (!(await ctx.store.useOnce(`bcl\n${iss}\n${payload.jti}`, idp.options.logoutTokenReplayWindowSeconds * 1000))) {
      throw badToken('The logout token was already used.');
    }
    const notice = { scope: 'idp_backchannel', event: 'oidc_backchannel_logout', message: 'back-channel logout', log: 'summary' } as const;
    if (sid !== undefined) {
      await endSessions(ctx, { idpIss: iss, idpSid: sid }, { ...notice, fields: (ended) => ({ by: 'sid', ended: ended.map((s) => s.sid) }) });
    } else {
      const user = await mapUser({ iss, sub: sub! });
      await endSessions(ctx, user === null ? { alreadyEnded: [] } : { allOfUser: user.id }, {
        ...notice,
        fields: (ended) => ({ by: 'sub', userId: user?.id, ended: ended.map((s) => s.sid) }),
      });
    }
    res.status(200).end();
  };
}

function badToken(message: string, cause?: unknown): LatchkeyError {
  return new LatchkeyError('invalid_request', message, { oauthBody: true, ...(cause === undefined ? {} : { cause }) });
}
