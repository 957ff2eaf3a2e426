import * as client from 'openid-client';
import type { BffContext } from '../context.js';
import type { DeviceSessionRecord } from '../store/types.js';
import { unsealIdpToken } from './idp-token-seal.js';

/**
 * RP-initiated logout: the IdP's end_session URL for an ended session the IdP started (id_token_hint,
 * post_logout_redirect_uri, client_id), or null when not configured, not offered by the IdP, or the IdP's metadata
 * cannot be had right now (the local logout has happened either way; the browser then just stays here).
 */
export async function endSessionUrlFor(ctx: BffContext, session: DeviceSessionRecord): Promise<string | null> {
  const idp = ctx.idp;
  const postLogoutRedirectUri = idp?.options.postLogoutRedirectUri;
  if (!idp || !session.idp || postLogoutRedirectUri === undefined) return null;
  let config: client.Configuration;
  try {
    config = await idp.config();
  } catch (error) {
    ctx.logger.warn(
      { event: 'oidc_end_session_unavailable', err: { message: (error as Error).message } },
      'identity provider metadata unavailable; local logout only',
    );
    return null;
  }
  if (!config.serverMetadata().end_session_endpoint) return null;
  const idTokenHint = session.idp.idTokenSealed === null ? null : unsealIdpToken(ctx, 'id_token', session.idp.idTokenSealed);
  const parameters: Record<string, string> = { post_logout_redirect_uri: postLogoutRedirectUri, client_id: idp.options.clientId };
  if (idTokenHint !== null) parameters.id_token_hint = idTokenHint;
  return client.buildEndSessionUrl(config, parameters).href;
}
