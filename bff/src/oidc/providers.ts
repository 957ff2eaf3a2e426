import { LatchkeyError } from '../errors/latchkey-error.js';
import type { ResolvedOidcOptions, ResolvedOidcProvider } from '../options.js';
import { sameIssuer } from './oidc-options.js';
import { createIdpClient, type IdpClient, type IdpClientHooks } from './idp-client.js';

/**
 * The configured identity providers, each with its own client (its own discovery, JWKS cache and deadline): by name
 * for sign-in, by issuer for what an OpenID Connect provider sends later (a back-channel logout token, a session's
 * renewal and RP-initiated logout: a session records the issuer, and each issuer has one provider).
 */
export interface IdentityProviders {
  readonly options: ResolvedOidcOptions;
  readonly all: readonly IdpClient[];
  /** The provider `GET /oidc/login` names (`?provider=`), or the default one; 400 `invalid_request` for an unknown name. */
  forSignIn(name: string | undefined): IdpClient;
  /** The provider of a sign-in transaction; undefined when it is no longer configured. */
  byName(name: string): IdpClient | undefined;
  /** The OpenID Connect provider of this issuer; undefined for none. */
  byIssuer(iss: string): IdpClient<ResolvedOidcProvider> | undefined;
}

export function createIdentityProviders(options: ResolvedOidcOptions, hooks: IdpClientHooks): IdentityProviders {
  const all = options.providers.map((provider) => createIdpClient(provider, hooks));
  const byName = (name: string) => all.find((idp) => idp.options.name === name);
  const oidc = all.filter((idp): idp is IdpClient<ResolvedOidcProvider> => idp.options.type === 'oidc');
  return Object.freeze({
    options,
    all: Object.freeze(all),
    byName,
    byIssuer: (iss: string) => oidc.find((idp) => sameIssuer(idp.options.issuer, iss)),
    forSignIn(name: string | undefined) {
      const wanted = name ?? options.defaultProvider;
      const idp = wanted === undefined ? undefined : byName(wanted);
      if (idp) return idp;
      throw new LatchkeyError('invalid_request', wanted === undefined ? 'Name the identity provider (?provider=).' : 'Unknown identity provider.');
    },
  });
}
