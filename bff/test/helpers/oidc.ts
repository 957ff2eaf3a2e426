/**
 * Sign-in through a real OpenID Provider in tests: the bundled development IdP (node-oidc-provider, never a mock) on a
 * free port, and a BFF with the `oidc` option on a real HTTP server (the IdP calls its back-channel logout endpoint).
 * The browser's side is the test kit's HttpDevice (its cookie jar follows the redirects the way a browser would).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authorizeAtIdp, freePort, returnFromIdp, startLogin, type HttpDevice } from '@latchkey/testkit';
import { startDevIdp, type DevIdp, type DevIdpAccount } from '../../../examples/demo/src/dev-idp.js';
import type { OidcOptions, OidcProviderOptions } from '../../src/index.js';
import type { SessionStore } from '../../src/store/types.js';
import { startTestBff, type TestBff, type TestBffOverrides } from './harness.js';

export const IDP_CLIENT_ID = 'latchkey-test';
export const IDP_CLIENT_SECRET = 'test-client-secret-0123456789';
export const IDP_ACCOUNTS: readonly DevIdpAccount[] = [
  { username: 'alice', password: 'wonderland', sub: 'idp-alice', name: 'Alice Liddell', email: 'alice@example.com' },
  { username: 'bob', password: 'builder', sub: 'idp-bob', name: 'Bob the Builder', email: 'bob@example.com' },
];

export type RunningIdp = DevIdp & { issuer: string; port: number; stop(): Promise<void>; start(): Promise<void> };

/** `port`: a port of a stopped IdP, to start a new one in its place (same issuer, a new signing key: a key rotation). */
/** `callbackPath`: the BFF's callback registered at this IdP (default `/auth/oidc/callback`; a provider's own with several). */
export async function startTestIdp(
  bffOrigin: string,
  options: { accessTokenTtlSeconds?: number; port?: number; callbackPath?: string } = {},
): Promise<RunningIdp> {
  const port = options.port ?? (await freePort());
  // Another site than the BFF (http://127.0.0.1:<port>), as an IdP is in production: the browser's jar then keeps the
  // BFF's SameSite=Strict cookies home on the way back from the IdP, as a browser does (ports do not make sites).
  const issuer = `http://localhost:${port}`;
  const idp = await startDevIdp({
    issuer,
    port,
    accounts: IDP_ACCOUNTS,
    allowLoopbackPorts: false,
    ...(options.accessTokenTtlSeconds ? { accessTokenTtlSeconds: options.accessTokenTtlSeconds } : {}),
    clients: [
      {
        clientId: IDP_CLIENT_ID,
        clientSecret: IDP_CLIENT_SECRET,
        redirectUris: [`${bffOrigin}${options.callbackPath ?? '/auth/oidc/callback'}`],
        postLogoutRedirectUris: [`${bffOrigin}/signed-out`],
        backchannelLogoutUri: `${bffOrigin}/auth/oidc/backchannel-logout`,
      },
    ],
  });
  return { ...idp, issuer, port };
}

export interface OidcStack {
  bff: TestBff;
  idp: RunningIdp;
  /** http://127.0.0.1:<port> of the BFF's server. */
  origin: string;
  close(): Promise<void>;
}

/** The provider's name in the BFF's `oidc.providers` of startOidcStack. */
export const TEST_PROVIDER = 'test';

/**
 * A BFF (with `oidc` on) on a free port and the IdP it trusts: `provider` overrides that provider's options, `oidc` the
 * options beside `providers` (transactionTtlSeconds, errorRedirect).
 */
export async function startOidcStack(
  store: SessionStore,
  provider: Partial<OidcProviderOptions> = {},
  overrides: TestBffOverrides = {},
  oidc: Partial<Omit<OidcOptions, 'providers'>> = {},
): Promise<OidcStack> {
  // The BFF's server is bound first (its origin goes into the IdP's client registration and the BFF's options): a port
  // only chosen here and bound after the IdP had started was, on a busy machine, sometimes bound meanwhile by another
  // test file's server, whose 404s then answered the sign-in.
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const idp = await startTestIdp(origin);
  const bff = await startTestBff(
    {
      dangerouslyAllowInsecureHttp: true,
      oidc: {
        providers: {
          [TEST_PROVIDER]: {
            issuer: idp.issuer,
            clientId: IDP_CLIENT_ID,
            clientAuth: { method: 'client_secret_basic', secret: IDP_CLIENT_SECRET },
            redirectUri: `${origin}/auth/oidc/callback`,
            postLogoutRedirectUri: `${origin}/signed-out`,
            scopes: ['openid', 'profile', 'email', 'offline_access'],
            dangerouslyAllowInsecureIdpRequests: true,
            ...provider,
          },
        },
        ...oidc,
      },
      ...overrides,
    },
    store,
  );
  server.on('request', bff.app);
  return {
    bff,
    idp,
    origin,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await idp.stop();
      await bff.close();
    },
  };
}

/** The whole sign-in; returns the callback's response (303 to returnTo, with the session cookie). */
export async function signIn(browser: HttpDevice, origin: string, username = 'alice', returnTo = '/app'): Promise<Response> {
  const authorization = await startLogin(browser, origin, returnTo);
  const callback = await authorizeAtIdp(browser, authorization.href, username, IDP_ACCOUNTS.find((a) => a.username === username)!.password);
  return returnFromIdp(browser, callback);
}
