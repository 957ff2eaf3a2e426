/**
 * The demo's client registration at its bundled development IdP, in a module of its own so test harnesses can read
 * it without loading oidc-provider. Development only: this secret is public (documented in the README).
 */
export const DEV_IDP_CLIENT_ID = 'latchkey-demo';
export const DEV_IDP_CLIENT_SECRET = 'latchkey-demo-idp-client-secret-for-development-only';

/**
 * The demo's upstream API as a resource server at the development IdP (proxy mode with LATCHKEY_DEMO_IDP): it checks
 * the IdP access tokens `bff.proxy({ token: 'idp' })` attaches through the IdP's introspection endpoint (RFC 7662).
 * Development only: this secret is public.
 */
export const DEV_IDP_API_CLIENT_ID = 'latchkey-demo-api';
export const DEV_IDP_API_CLIENT_SECRET = 'latchkey-demo-api-introspection-secret-for-development-only';
