import type { BffContext } from '../context.js';
import type { ResolvedOAuthProvider } from '../options.js';
import { idpUnavailable, type IdpClient } from './idp-client.js';
import type { LoginTransaction } from './login-transaction.js';
import type { ProviderSignIn } from './oidc-sign-in.js';
import { exchangeCode } from './exchange-code.js';
import { signInFailed } from './sign-in-failure.js';

/** A profile bigger than this is refused unread: it is only mapped to an id and a name. */
const MAX_PROFILE_BYTES = 64 * 1024;

/**
 * The plain OAuth 2.0 half of the callback (GitHub-style providers: no ID token, no discovery): openid-client checks
 * `state` and exchanges the code with the PKCE verifier (the client authenticated); the access token fetches the
 * profile from the userinfo endpoint, once, and the provider's `userinfo` mapper picks the user. The access token is
 * then forgotten: no IdP link is kept, so there is no renewal at the provider and no back-channel or RP-initiated
 * logout (OAuth 2.0 defines none). Throws 400 `oidc_login_failed` (503 when the provider cannot be reached).
 */
export async function completeOAuthSignIn(
  ctx: BffContext,
  idp: IdpClient<ResolvedOAuthProvider>,
  transaction: LoginTransaction,
  search: string,
): Promise<ProviderSignIn> {
  const name = idp.options.name;
  const config = await idp.config();
  const tokens = await exchangeCode(ctx, { name, config, redirectUri: idp.options.redirectUri }, transaction, search, false);
  const accessToken = tokens.access_token;
  const profile = await fetchProfile(ctx, idp, accessToken);
  const user = await idp.options.userinfo(profile);
  if (user === null) throw signInFailed(ctx, name, 'userinfo refused', 'This account may not sign in here.');
  return { user };
}

async function fetchProfile(ctx: BffContext, idp: IdpClient<ResolvedOAuthProvider>, accessToken: string): Promise<Record<string, unknown>> {
  const name = idp.options.name;
  let response: Response;
  try {
    response = await idp.fetch(idp.options.userinfoEndpoint, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      redirect: 'manual',
    });
  } catch (error) {
    throw idpUnavailable('userinfo', error);
  }
  if (response.status >= 500) throw idpUnavailable('userinfo', new Error(`userinfo answered ${response.status}`));
  const text = response.status === 200 ? await response.text() : '';
  let profile: unknown;
  try {
    profile = text.length <= MAX_PROFILE_BYTES ? JSON.parse(text) : undefined;
  } catch {
    profile = undefined;
  }
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) {
    throw signInFailed(ctx, name, `userinfo answered ${response.status}`, 'The identity provider did not give the user’s profile.');
  }
  return profile as Record<string, unknown>;
}
