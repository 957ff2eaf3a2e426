import type { BffContext } from '../context.js';
import type { AuthRoute } from '../http/exchange.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { redirectOnFailure } from '../oidc/error-redirect.js';
import type { IdpClient } from '../oidc/idp-client.js';
import type { LoginTransaction, LoginTransactions } from '../oidc/login-transaction.js';
import { completeOAuthSignIn } from '../oidc/oauth-sign-in.js';
import { completeOidcSignIn, type ProviderSignIn } from '../oidc/oidc-sign-in.js';
import type { IdentityProviders } from '../oidc/providers.js';
import { restampAtIdp } from '../oidc/reauthentication.js';
import { endReplacedSession } from '../oidc/replaced-session.js';
import { signInFailed } from '../oidc/sign-in-failure.js';
import type { ResolvedOAuthProvider, ResolvedOidcProvider } from '../options.js';
import { sessionCookieHeaders } from '../session/cookie.js';
import { startDeviceSession } from '../session/start-device-session.js';

/**
 * GET /oidc/callback (and /oidc/callback/<provider>): the provider sends the browser back here (a cross-site top-level
 * navigation). The login transaction is taken and destroyed first, so it serves exactly one callback whatever the
 * outcome. It names the provider the sign-in started with: only that provider's callback path is accepted (a code
 * another provider sent to its own path is refused before any token request, the mix-up defence) and only that
 * provider's token endpoint sees the code. Then a normal device session starts (startDeviceSession, as for password
 * login; the device name typed on the page, if any) holding the IdP link, and the browser goes to `returnTo` (303);
 * the page gets its access token from POST /refresh.
 * Every failure is a 400 `oidc_login_failed` (503 when the provider cannot be reached) and stores nothing; a browser
 * navigation gets it as a 303 to `returnTo?auth_error=<code>` instead (`oidc.errorRedirect`).
 */
export function createOidcCallbackRoute(ctx: BffContext, idps: IdentityProviders, transactions: LoginTransactions): AuthRoute {
  return async (req, reply) => {
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    const { transaction, clearCookie } = await transactions.take(req.get('cookie'));
    reply.setCookie(clearCookie);
    return redirectOnFailure(ctx, req, reply, transaction?.returnTo, async () => {
      if (transaction === null) {
        throw signInFailed(
          ctx,
          undefined,
          'no transaction',
          'No sign-in is in progress in this browser (it expired, was already completed, or was not started here).',
        );
      }
      const idp = providerOf(ctx, idps, transaction, req.params.provider);
      const signedIn: ProviderSignIn =
        idp.options.type === 'oidc'
          ? await completeOidcSignIn(ctx, idp as IdpClient<ResolvedOidcProvider>, transaction, req.search)
          : await completeOAuthSignIn(ctx, idp as IdpClient<ResolvedOAuthProvider>, transaction, req.search);
      // Step-up: the same device session, re-stamped (reauthentication.ts); its cookie stays as it is.
      const reauth = transaction.authentication?.reauth;
      if (reauth) {
        await restampAtIdp(ctx, reauth, signedIn);
        return reply.redirect(transaction.returnTo);
      }
      // The browser's previous session: its Strict cookie does not come with this navigation from the IdP's site.
      if (transaction.replaces) await endReplacedSession(ctx, transaction.replaces, { userId: signedIn.user.id, ip: req.ip });
      const { session, cookie } = await startDeviceSession(
        ctx,
        { cookieHeader: req.get('cookie'), userAgent: req.get('user-agent'), ip: req.ip },
        signedIn.user,
        {
          ...(signedIn.idp ? { idp: signedIn.idp } : {}),
          ...(signedIn.idToken ? { idToken: signedIn.idToken } : {}),
          ...(transaction.deviceName !== undefined ? { deviceName: transaction.deviceName } : {}),
          via: idp.options.type,
        },
      );
      return reply.setCookie(...sessionCookieHeaders(ctx, session, cookie)).redirect(transaction.returnTo);
    });
  };
}

/** The transaction's provider, on its own callback path; a callback on another provider's path fails. */
function providerOf(ctx: BffContext, idps: IdentityProviders, transaction: LoginTransaction, pathProvider: string | undefined): IdpClient {
  const name = transaction.provider ?? idps.options.defaultProvider;
  const idp = name === undefined ? undefined : idps.byName(name);
  if (!idp) throw signInFailed(ctx, name, 'provider not configured', 'The identity provider of this sign-in is not configured any more.');
  if ((pathProvider ?? null) !== idp.options.callbackName) {
    throw signInFailed(ctx, name, 'callback path', 'This answer came back on another identity provider’s callback.');
  }
  return idp;
}
