/**
 * The demo's client registration at its bundled development IdP, in a module of its own so test harnesses can read
 * it without loading oidc-provider. Development only: this secret is public (documented in the README).
 */
export const DEV_IDP_CLIENT_ID = 'latchkey-demo';
export const DEV_IDP_CLIENT_SECRET = 'latchkey-demo-idp-client-secret-for-development-only';
