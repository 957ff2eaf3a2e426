import * as client from 'openid-client';
import type { BffContext } from '../context.js';
import { idpUnavailable, isIdpUnreachable, oauthErrorCode } from './idp-client.js';
import type { LoginTransaction } from './login-transaction.js';
import { signInFailed } from './sign-in-failure.js';

/**
 * The callback's code exchange, for OpenID Connect and plain OAuth providers alike: openid-client checks `state` (and
 * the nonce of an ID token, when one is expected) and redeems the code with the PKCE verifier. An unreachable provider
 * is 503; any refusal or mismatch is 400 `oidc_login_failed` under the provider's name.
 */
export async function exchangeCode(
  ctx: BffContext,
  provider: { name: string; config: client.Configuration; redirectUri: string },
  transaction: LoginTransaction,
  search: string,
  idTokenExpected: boolean,
): Promise<Awaited<ReturnType<typeof client.authorizationCodeGrant>>> {
  // The URL the provider redirected to: the registered redirect URI with the query the browser brought.
  const currentUrl = new URL(provider.redirectUri);
  currentUrl.search = search;
  try {
    return await client.authorizationCodeGrant(provider.config, currentUrl, {
      pkceCodeVerifier: transaction.codeVerifier,
      expectedState: transaction.state,
      ...(idTokenExpected && transaction.nonce !== undefined ? { expectedNonce: transaction.nonce } : {}),
      idTokenExpected,
    });
  } catch (error) {
    if (isIdpUnreachable(error)) throw idpUnavailable('token', error);
    const code = oauthErrorCode(error);
    throw signInFailed(
      ctx,
      provider.name,
      code ?? (error as Error).message,
      code ? `The identity provider answered ${code}.` : 'The identity provider’s answer did not match this sign-in.',
      error,
    );
  }
}
