import * as client from 'openid-client';
import { ROUTES } from '@latchkey/shared';
import type { BffContext } from '../context.js';
import type { DeviceSessionRecord } from '../store/types.js';
import type { ResolvedOidcProvider } from '../options.js';
import type { IdpClient } from './idp-client.js';
import { unsealIdpToken } from './idp-token-seal.js';
import { issueLogoutHandle } from './logout-handle.js';

/**
 * RP-initiated logout, first half (POST /logout, after the local logout): for an ended session the IdP started, when
 * `postLogoutRedirectUri` is set and the IdP offers an end_session_endpoint, leaves a logout handle for this browser
 * (logout-handle.ts) and returns the URL of GET /oidc/logout for the page to navigate to. The ID token is not in it:
 * that route adds it server-side. Null when RP-initiated logout does not apply or cannot be prepared right now (IdP
 * metadata or the store unavailable): the local logout has happened either way; the browser then just stays here.
 */
export async function beginRpLogout(ctx: BffContext, baseUrl: string, setCookie: (line: string) => void, session: DeviceSessionRecord): Promise<string | null> {
  // The provider that started the session: a session records its issuer, and each issuer has one provider.
  const idp = session.idp ? ctx.idps?.byIssuer(session.idp.iss) : undefined;
  if (!idp || !session.idp || idp.options.postLogoutRedirectUri === undefined) return null;
  try {
    if (!(await idp.config()).serverMetadata().end_session_endpoint) return null;
    await issueLogoutHandle(ctx, setCookie, { idTokenSealed: session.idp.idTokenSealed, provider: idp.options.name });
  } catch (error) {
    ctx.logger.warn(
      { event: 'oidc_end_session_unavailable', err: { message: (error as Error).message } },
      'RP-initiated logout unavailable; local logout only',
    );
    return null;
  }
  return logoutRouteUrl(idp, baseUrl);
}

/** The IdP's end-session URL: post_logout_redirect_uri, client_id and, when the session had one, id_token_hint. */
export async function endSessionUrl(ctx: BffContext, idp: IdpClient<ResolvedOidcProvider>, idTokenSealed: string | null): Promise<string> {
  const config = await idp.config();
  const parameters: Record<string, string> = { post_logout_redirect_uri: idp.options.postLogoutRedirectUri!, client_id: idp.options.clientId };
  const idTokenHint = idTokenSealed === null ? null : unsealIdpToken(ctx, 'id_token', idTokenSealed);
  if (idTokenHint !== null) parameters.id_token_hint = idTokenHint;
  return client.buildEndSessionUrl(config, parameters).href;
}

/**
 * GET /oidc/logout, absolute: next to the callback the IdP knows (`redirectUri`), which is the BFF's public URL even
 * when the page is on another origin. Relative to this router's mount when the callback path is not the usual one.
 */
function logoutRouteUrl(idp: IdpClient<ResolvedOidcProvider>, baseUrl: string): string {
  const url = new URL(idp.options.redirectUri);
  if (!url.pathname.endsWith(ROUTES.oidcCallback)) return `${baseUrl}${ROUTES.oidcLogout}`;
  url.pathname = url.pathname.slice(0, -ROUTES.oidcCallback.length) + ROUTES.oidcLogout;
  url.search = '';
  url.hash = '';
  return url.href;
}
