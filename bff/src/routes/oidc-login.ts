import { parse as parseQuery } from 'node:querystring';
import * as client from 'openid-client';
import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRoute } from '../http/exchange.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { createOidcLoginIpLimit } from '../http/oidc-login-rate-limit.js';
import { checkSignInNavigation } from '../http/sign-in-navigation.js';
import { redirectOnFailure } from '../oidc/error-redirect.js';
import { authenticationRequest } from '../oidc/reauthentication.js';
import type { IdpClient } from '../oidc/idp-client.js';
import type { LoginTransaction, LoginTransactions } from '../oidc/login-transaction.js';
import type { IdentityProviders } from '../oidc/providers.js';
import { sessionToReplace } from '../oidc/replaced-session.js';
import { resolveReturnTo } from '../oidc/return-to.js';
import { loginBodySchema } from './login.js';

/**
 * GET /oidc/login?provider=&returnTo=&deviceName=: a top-level navigation from the page's `signIn()`. Picks the
 * provider (`provider`, or the default one; 400 `invalid_request` for an unknown name), starts a login transaction
 * (the provider, state, nonce for OpenID Connect, PKCE S256 verifier, returnTo, the device name typed on the page,
 * and the device session this browser holds: its Strict cookie comes with this same-site navigation but not with the
 * callback, which ends it) and sends the browser to the provider's authorization endpoint (303).
 * No X-CSRF header can come with a navigation: state, PKCE and the SameSite=Lax transaction cookie protect the
 * callback. Starting a sign-in is not harmless (with an SSO session at the IdP it completes silently and adds a
 * device session), so only a same-site top-level navigation starts one (checkSignInNavigation, before anything is
 * counted or written), and each start, which writes a transaction to the store, counts against its own per-IP limit.
 */
export function createOidcLoginRoute(ctx: BffContext, idps: IdentityProviders, transactions: LoginTransactions): AuthRoute {
  const ipLimit = createOidcLoginIpLimit(ctx);
  return async (req, reply) => {
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    checkSignInNavigation(req, ctx.logger);
    await ipLimit(req.ip);
    // The query as Express's default ("simple") parser reads it: a repeated parameter is an array, and refused.
    const query = parseQuery(req.search.slice(1));
    const returnTo = resolveReturnTo(req, query.returnTo, ctx.options.origins.allowed);
    const idp = idps.forSignIn(single(query.provider, 'provider'));
    const deviceName = parseDeviceName(query.deviceName);
    // Step-up: max_age, and for `reauth=1` prompt=login (and acr_values) on the session this browser holds (reauthentication.ts).
    const authentication = await authenticationRequest(ctx, idp.options, req.get('cookie'), query);
    // From here a failure is the provider's (it cannot be reached): a browser goes back to returnTo with auth_error.
    return redirectOnFailure(ctx, req, reply, returnTo, async () => {
      const config = await idp.config();
      const codeVerifier = client.randomPKCECodeVerifier();
      // A re-authentication keeps the session; only a new sign-in replaces it.
      const replaces = authentication.request.reauth ? undefined : await sessionToReplace(ctx, req.get('cookie'));
      const transaction: LoginTransaction = {
        provider: idp.options.name,
        state: client.randomState(),
        ...(idp.options.type === 'oidc' ? { nonce: client.randomNonce() } : {}),
        codeVerifier,
        returnTo,
        ...(deviceName !== undefined ? { deviceName } : {}),
        ...(replaces ? { replaces } : {}),
        authentication: authentication.request,
      };
      const url = client.buildAuthorizationUrl(config, { ...(await authorizationParameters(idp, transaction)), ...authentication.params });
      return reply.setCookie(await transactions.begin(req.get('cookie'), transaction)).redirect(url.href);
    });
  };
}

/** The authorization request: code flow with PKCE S256 and state always; a nonce for OpenID Connect. */
async function authorizationParameters(idp: IdpClient, transaction: LoginTransaction): Promise<Record<string, string>> {
  const parameters: Record<string, string> = {
    redirect_uri: idp.options.redirectUri,
    response_type: 'code',
    code_challenge: await client.calculatePKCECodeChallenge(transaction.codeVerifier),
    code_challenge_method: 'S256',
    state: transaction.state,
  };
  if (idp.options.scopes.length > 0) parameters.scope = idp.options.scopes.join(' ');
  if (transaction.nonce !== undefined) parameters.nonce = transaction.nonce;
  return parameters;
}

function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) throw new LatchkeyError('invalid_request', `${name} may be given once.`);
  return value === '' ? undefined : value;
}

/** Validated as the password login's deviceName: controls dropped, trimmed, 1..100 characters. */
function parseDeviceName(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const parsed = loginBodySchema.shape.deviceName.safeParse(single(value, 'deviceName') ?? null);
  if (!parsed.success || parsed.data === undefined) throw new LatchkeyError('invalid_request', 'Invalid sign-in request (deviceName).');
  return parsed.data;
}
