import { parse as parseQuery } from 'node:querystring';
import * as client from 'openid-client';
import type { BffContext } from '../context.js';
import type { AuthRoute } from '../http/exchange.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { createOidcLoginIpLimit } from '../http/oidc-login-rate-limit.js';
import { checkSignInNavigation } from '../http/sign-in-navigation.js';
import type { LoginTransactions } from '../oidc/login-transaction.js';
import { authenticationRequest } from '../oidc/reauthentication.js';
import { sessionToReplace } from '../oidc/replaced-session.js';
import type { IdpClient } from '../oidc/idp-client.js';
import { resolveReturnTo } from '../oidc/return-to.js';

/**
 * GET /oidc/login?returnTo=: a top-level navigation from the page's `signIn()`. Starts a login transaction (state,
 * nonce, PKCE S256 verifier, returnTo, and the device session this browser holds: its Strict cookie comes with this
 * same-site navigation but not with the callback, which ends it) and sends the browser to the IdP's authorization
 * endpoint (303).
 * No X-CSRF header can come with a navigation: state, PKCE and the SameSite=Lax transaction cookie protect the
 * callback. Starting a sign-in is not harmless (with an SSO session at the IdP it completes silently and adds a
 * device session), so only a same-site top-level navigation starts one (checkSignInNavigation, before anything is
 * counted or written), and each start, which writes a transaction to the store, counts against its own per-IP limit.
 */
export function createOidcLoginRoute(ctx: BffContext, idp: IdpClient, transactions: LoginTransactions): AuthRoute {
  const ipLimit = createOidcLoginIpLimit(ctx);
  return async (req, reply) => {
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    checkSignInNavigation(req, ctx.logger);
    await ipLimit(req.ip);
    // The query as Express's default ("simple") parser reads it: a repeated returnTo is an array, and refused.
    const query = parseQuery(req.search.slice(1));
    const returnTo = resolveReturnTo(req, query.returnTo, ctx.options.allowedOrigins);
    // Step-up: max_age, and for `reauth=1` prompt=login (and acr_values) on the session this browser holds (reauthentication.ts).
    const authentication = await authenticationRequest(ctx, idp.options, req.get('cookie'), query);
    const config = await idp.config();
    const codeVerifier = client.randomPKCECodeVerifier();
    // A re-authentication keeps the session; only a new sign-in replaces it.
    const replaces = authentication.request.reauth ? undefined : await sessionToReplace(ctx, req.get('cookie'));
    const transaction = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier,
      returnTo,
      ...(replaces ? { replaces } : {}),
      authentication: authentication.request,
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: idp.options.redirectUri,
      scope: idp.options.scopes.join(' '),
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: transaction.state,
      nonce: transaction.nonce,
      ...authentication.params,
    });
    return reply.setCookie(await transactions.begin(req.get('cookie'), transaction)).redirect(url.href);
  };
}
