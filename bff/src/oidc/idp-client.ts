import { importJWK } from 'jose';
import * as client from 'openid-client';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { ClientAuth, ResolvedIdpProvider } from '../options.js';
import { createIdpKeySet, type IdpKeySet } from './idp-keys.js';

/** How long a client should wait before retrying when the IdP could not be reached. */
export const IDP_RETRY_AFTER_SECONDS = 5;

/** ID tokens and logout tokens are signed by the IdP's own keys: never with a shared secret (HS*) or none. */
const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^ES256K$/;

/**
 * The BFF's view of one upstream provider: its configuration (openid-client) and, for OpenID Connect, its JWKS for ID
 * tokens and back-channel logout tokens. An OIDC provider's configuration is discovered on first use and again after a
 * failure, so the BFF starts (and password login works) while the IdP is down; its routes answer 503 until it is back.
 * A plain OAuth 2.0 provider's is built from its configured endpoints.
 */
export interface IdpClient<P extends ResolvedIdpProvider = ResolvedIdpProvider> {
  readonly options: P;
  config(): Promise<client.Configuration>;
  /** The IdP's signing keys (discovery `jwks_uri`), cached (see idp-keys.ts). */
  signingKeys(): Promise<IdpKeySet>;
  /** The asymmetric algorithms the IdP announces for ID tokens (RS256 when it announces none). */
  signingAlgorithms(): Promise<string[]>;
  /** A request to the provider outside openid-client (an OAuth provider's userinfo), counted like the others when it gets no answer. */
  fetch(url: string, init: RequestInit): Promise<Response>;
}

export interface IdpClientHooks {
  /** The BFF's clock, on which the JWKS cache ages. */
  now?: () => number;
  /** Called for each request to the IdP that got no usable answer (network error, timeout, 5xx): the metrics count it. */
  onUnreachable?: () => void;
}

export function createIdpClient<P extends ResolvedIdpProvider>(options: P, hooks: IdpClientHooks = {}): IdpClient<P> {
  const now = hooks.now ?? Date.now;
  // Every request to the IdP (discovery, token, refresh, JWKS) goes through this fetch, so "the IdP is down" is counted
  // in one place whichever route noticed it.
  const watchedFetch = async (url: string, init: object): Promise<Response> => {
    let response: Response;
    try {
      response = await fetch(url, init as RequestInit);
    } catch (error) {
      hooks.onUnreachable?.();
      throw error;
    }
    if (response.status >= 500) hooks.onUnreachable?.();
    return response;
  };
  let discovered: Promise<client.Configuration> | undefined;
  let keys: IdpKeySet | undefined;

  const discover = async (): Promise<client.Configuration> => {
    const auth = await clientAuthentication(options.clientAuth);
    let config: client.Configuration;
    if (options.type === 'oauth') {
      // No discovery and no issuer: the provider is its endpoints. The issuer openid-client wants is the authorization
      // endpoint's origin (an `iss` the provider sent back would have to match it, RFC 9207).
      const metadata = {
        issuer: new URL(options.authorizationEndpoint).origin,
        authorization_endpoint: options.authorizationEndpoint,
        token_endpoint: options.tokenEndpoint,
        userinfo_endpoint: options.userinfoEndpoint,
      };
      config = new client.Configuration(metadata, options.clientId, undefined, auth);
      if (options.dangerouslyAllowInsecureIdpRequests) client.allowInsecureRequests(config);
      config[client.customFetch] = watchedFetch;
    } else {
      config = await client.discovery(new URL(options.issuer), options.clientId, undefined, auth, {
        execute: options.dangerouslyAllowInsecureIdpRequests ? [client.allowInsecureRequests] : [],
        timeout: options.requestTimeoutMs / 1000,
        [client.customFetch]: watchedFetch,
      });
    }
    // openid-client counts its request deadline in seconds.
    config.timeout = options.requestTimeoutMs / 1000;
    return config;
  };

  const config = (): Promise<client.Configuration> => {
    discovered ??= discover().catch((error: unknown) => {
      discovered = undefined;
      throw idpUnavailable('discovery', error);
    });
    return discovered;
  };

  return Object.freeze({
    options,
    config,
    fetch: (url: string, init: RequestInit) => watchedFetch(url, { ...init, signal: AbortSignal.timeout(options.requestTimeoutMs) }),
    async signingKeys() {
      if (keys) return keys;
      if (options.type !== 'oidc') throw new LatchkeyError('internal_error', 'A plain OAuth 2.0 provider has no signing keys.');
      const jwksUri = (await config()).serverMetadata().jwks_uri;
      if (!jwksUri) throw new LatchkeyError('internal_error', 'The identity provider publishes no jwks_uri.');
      const url = new URL(jwksUri);
      if (url.protocol !== 'https:' && !options.dangerouslyAllowInsecureIdpRequests) {
        throw new LatchkeyError('internal_error', 'The identity provider’s jwks_uri is not https.');
      }
      keys = createIdpKeySet(url, { timeoutMs: options.requestTimeoutMs, now, fetch: watchedFetch, unavailable: (cause) => idpUnavailable('jwks', cause) });
      return keys;
    },
    async signingAlgorithms() {
      if (options.type !== 'oidc') return [];
      const announced = (await config()).serverMetadata().id_token_signing_alg_values_supported ?? ['RS256'];
      return announced.filter((alg) => ASYMMETRIC.test(alg));
    },
  });
}

async function clientAuthentication(auth: ClientAuth): Promise<client.ClientAuth> {
  if (auth.method === 'client_secret_basic') return client.ClientSecretBasic(auth.secret);
  if (auth.method === 'client_secret_post') return client.ClientSecretPost(auth.secret);
  const key = (await importJWK(auth.privateJwk as never, inferAlg(auth.privateJwk))) as CryptoKey;
  return client.PrivateKeyJwt({ key, kid: typeof auth.privateJwk.kid === 'string' ? auth.privateJwk.kid : undefined });
}

function inferAlg(jwk: Record<string, unknown>): string {
  if (typeof jwk.alg === 'string') return jwk.alg;
  if (jwk.kty === 'EC') return 'ES256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  return 'RS256';
}

/** The IdP could not give an answer (network, timeout, 5xx): 503 with Retry-After, the cause kept. */
export function idpUnavailable(operation: string, cause: unknown): LatchkeyError {
  if (cause instanceof LatchkeyError) return cause;
  return new LatchkeyError('temporarily_unavailable', `The identity provider could not be reached (${operation}). Try again shortly.`, {
    cause,
    headers: { 'Retry-After': String(IDP_RETRY_AFTER_SECONDS) },
  });
}

/**
 * True when an error from openid-client means "no usable answer from the IdP" (rather than a definitive OAuth error
 * about this request): network errors, timeouts, 5xx with or without an OAuth body, and non-JSON answers.
 */
export function isIdpUnreachable(error: unknown): boolean {
  if (error instanceof client.ResponseBodyError) return error.status >= 500;
  if (error instanceof client.ClientError) {
    const cause = error.cause;
    if (cause instanceof Response) return cause.status >= 500;
    return error.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || error.code === 'OAUTH_RESPONSE_IS_NOT_JSON';
  }
  if (error instanceof client.AuthorizationResponseError || error instanceof client.WWWAuthenticateChallengeError) return false;
  // fetch failures (TypeError "fetch failed"), aborts and timeouts.
  return error instanceof TypeError || (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'));
}

/** The OAuth error code of a definitive IdP answer (`invalid_grant`, `access_denied`, ...), or null. */
export function oauthErrorCode(error: unknown): string | null {
  if (error instanceof client.ResponseBodyError || error instanceof client.AuthorizationResponseError) return error.error;
  return null;
}
