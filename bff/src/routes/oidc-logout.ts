import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRoute } from '../http/exchange.js';
import { NO_STORE_HEADERS } from '../http/no-store.js';
import { endSessionUrl } from '../oidc/end-session-url.js';
import type { IdpClient } from '../oidc/idp-client.js';
import type { IdentityProviders } from '../oidc/providers.js';
import type { ResolvedOidcProvider } from '../options.js';
import { takeLogoutHandle } from '../oidc/logout-handle.js';

/**
 * GET /oidc/logout: RP-initiated logout, second half. The page navigates here (the `redirectTo` of POST /logout);
 * the browser's single-use logout handle (HttpOnly, SameSite=Strict cookie) names the ended session's sealed ID token,
 * which goes into a 303 to the IdP's end-session endpoint as `id_token_hint`. So the page's script never sees the ID
 * token (it is only in the Location header the browser follows), and a third party cannot use this route: its links
 * arrive without the Strict cookie (and are refused on `Sec-Fetch-Site: cross-site` before anything is read), a used
 * or expired handle is refused, and a refusal is a 400 with no Location, which leaks nothing and changes nothing.
 * Mounted before the X-CSRF check: a navigation cannot send the header.
 */
export function createOidcLogoutRoute(ctx: BffContext, idps: IdentityProviders): AuthRoute {
  return async (req, reply) => {
    for (const [name, value] of NO_STORE_HEADERS) reply.header(name, value);
    const handle = req.get('sec-fetch-site') === 'cross-site' ? null : await takeLogoutHandle(ctx, req.get('cookie'), (line) => reply.setCookie(line));
    if (handle === null) {
      throw new LatchkeyError('invalid_request', 'No sign-out is in progress in this browser (it expired, was already used, or was not started here).');
    }
    const name = handle.provider ?? idps.options.defaultProvider;
    const idp = name === undefined ? undefined : idps.byName(name);
    if (idp?.options.type !== 'oidc') throw new LatchkeyError('invalid_request', 'The identity provider of this sign-out is not configured any more.');
    const location = await endSessionUrl(ctx, idp as IdpClient<ResolvedOidcProvider>, handle.idTokenSealed);
    // The end-session URL carries the ID token: no Referer beyond this hop.
    return reply.header('Referrer-Policy', 'no-referrer').redirect(location);
  };
}
