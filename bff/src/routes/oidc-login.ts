import type { RequestHandler } from 'express';
import * as client from 'openid-client';
import type { BffContext } from '../context.js';
import { beginLoginTransaction } from '../oidc/login-transaction.js';
import { sessionToReplace } from '../oidc/replaced-session.js';
import type { IdpClient } from '../oidc/idp-client.js';
import { resolveReturnTo } from '../oidc/return-to.js';
import { catchRejection } from '../http/async-handler.js';

/**
 * GET /oidc/login?returnTo=: a top-level navigation from the page's `signIn()`. Starts a login transaction (state,
 * nonce, PKCE S256 verifier, returnTo, and the device session this browser holds: its Strict cookie comes with this
 * same-site navigation but not with the callback, which ends it) and sends the browser to the IdP's authorization
 * endpoint (303).
 * No X-CSRF header can come with a navigation: state, PKCE and the SameSite=Lax transaction cookie protect the
 * callback. Starting a sign-in is not harmless (with an SSO session at the IdP it completes silently and adds a
 * device session), so it is mounted behind requireSignInNavigation (same-site top-level navigations only) and its
 * own per-IP limit.
 */
export function createOidcLoginHandler(ctx: BffContext, idp: IdpClient): RequestHandler {
  return catchRejection(async (req, res) => {
    const returnTo = resolveReturnTo(req, req.query.returnTo, ctx.options.allowedOrigins);
    const config = await idp.config();
    const codeVerifier = client.randomPKCECodeVerifier();
    const replaces = await sessionToReplace(ctx, req.headers.cookie);
    const transaction = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier, returnTo, ...(replaces ? { replaces } : {}) };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: idp.options.redirectUri,
      scope: idp.options.scopes.join(' '),
      response_type: 'code',
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state: transaction.state,
      nonce: transaction.nonce,
    });
    await beginLoginTransaction(req, transaction);
    res.redirect(303, url.href);
  });
}
