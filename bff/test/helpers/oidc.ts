/**
 * Sign-in through a real OpenID Provider in tests: the bundled development IdP (node-oidc-provider, never a mock) on a
 * free port, a BFF with the `oidc` option on a real HTTP server (the IdP calls its back-channel logout endpoint), and a
 * tiny cookie-keeping "browser" that follows the redirects the way a browser would.
 */
import type { Server } from 'node:http';
import { startDevIdp, type DevIdp, type DevIdpAccount } from '../../../examples/demo/src/dev-idp.js';
import type { BffOptions, OidcOptions } from '../../src/index.js';
import type { SessionStore } from '../../src/store/types.js';
import { freePort } from './free-port.js';
import { startTestBff, type TestBff } from './harness.js';

export const IDP_CLIENT_ID = 'latchkey-test';
export const IDP_CLIENT_SECRET = 'test-client-secret-0123456789';
export const IDP_ACCOUNTS: readonly DevIdpAccount[] = [
  { username: 'alice', password: 'wonderland', sub: 'idp-alice', name: 'Alice Liddell', email: 'alice@example.com' },
  { username: 'bob', password: 'builder', sub: 'idp-bob', name: 'Bob the Builder', email: 'bob@example.com' },
];

export type RunningIdp = DevIdp & { issuer: string; port: number; stop(): Promise<void>; start(): Promise<void> };

export async function startTestIdp(bffOrigin: string, options: { accessTokenTtlSeconds?: number } = {}): Promise<RunningIdp> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
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
        redirectUris: [`${bffOrigin}/auth/oidc/callback`],
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

/** A BFF (with `oidc` on) on a free port and the IdP it trusts. */
export async function startOidcStack(
  store: SessionStore,
  oidc: Partial<OidcOptions> = {},
  overrides: Partial<BffOptions> = {},
): Promise<OidcStack> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const idp = await startTestIdp(origin);
  const bff = await startTestBff(
    {
      dangerouslyAllowInsecureHttp: true,
      oidc: {
        issuer: idp.issuer,
        clientId: IDP_CLIENT_ID,
        clientSecret: IDP_CLIENT_SECRET,
        redirectUri: `${origin}/auth/oidc/callback`,
        postLogoutRedirectUri: `${origin}/signed-out`,
        scopes: ['openid', 'profile', 'email', 'offline_access'],
        dangerouslyAllowInsecureIdpRequests: true,
        ...oidc,
      },
      ...overrides,
    },
    store,
  );
  const server: Server = await new Promise((resolve) => {
    const s = bff.app.listen(port, '127.0.0.1', () => resolve(s));
  });
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

/** A cookie jar per host (cookies ignore ports, as in a browser) that follows no redirect by itself. */
export class TestBrowser {
  private readonly jar = new Map<string, Map<string, string>>();

  cookies(url: string): Map<string, string> {
    const host = new URL(url).hostname;
    let cookies = this.jar.get(host);
    if (!cookies) this.jar.set(host, (cookies = new Map()));
    return cookies;
  }

  cookie(url: string, name: string): string | undefined {
    return this.cookies(url).get(name);
  }

  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const cookies = this.cookies(url);
    const headers: Record<string, string> = { ...init.headers };
    if (cookies.size > 0) headers.Cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const index = pair!.indexOf('=');
      const name = pair!.slice(0, index).trim();
      const value = pair!.slice(index + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) <= Date.now()));
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
    return res;
  }

  /** Follows redirects from `url` until one points where `stop` says (not requested), or a non-redirect answer. */
  async follow(url: string, stop: (next: URL) => boolean): Promise<{ stoppedAt: URL | null; last: Response }> {
    let current = url;
    for (let hops = 0; hops < 20; hops++) {
      const res = await this.request(current);
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { stoppedAt: null, last: res };
      const next = new URL(location, current);
      if (stop(next)) return { stoppedAt: next, last: res };
      current = next.href;
    }
    throw new Error('too many redirects');
  }
}

/**
 * From a BFF login redirect (the IdP authorization URL) through the IdP's login page with these credentials, up to the
 * redirect back to the BFF's callback, which is returned without being requested.
 */
export async function authorizeAtIdp(browser: TestBrowser, authorizationUrl: string, username = 'alice', password = 'wonderland'): Promise<URL> {
  const isCallback = (next: URL) => next.pathname === '/auth/oidc/callback';
  const toInteraction = await browser.follow(authorizationUrl, (next) => next.pathname.includes('/interaction/') || isCallback(next));
  // Already signed in at the IdP (single sign-on): straight back to the callback.
  if (toInteraction.stoppedAt && isCallback(toInteraction.stoppedAt)) return toInteraction.stoppedAt;
  if (!toInteraction.stoppedAt) throw new Error(`the IdP did not ask for a login: ${toInteraction.last.status} ${await toInteraction.last.text()}`);
  const login = await browser.request(`${toInteraction.stoppedAt.href}/login`, { form: { username, password } });
  const resume = login.headers.get('location');
  if (login.status !== 303 || !resume) throw new Error(`the IdP login answered ${login.status}`);
  const back = await browser.follow(new URL(resume, toInteraction.stoppedAt).href, (next) => next.pathname === '/auth/oidc/callback');
  if (!back.stoppedAt) throw new Error(`the IdP did not return to the callback: ${back.last.status} ${await back.last.text()}`);
  return back.stoppedAt;
}

/** GET /auth/oidc/login: the IdP authorization URL it redirects to. */
export async function startLogin(browser: TestBrowser, origin: string, returnTo = '/app'): Promise<URL> {
  const res = await browser.request(`${origin}/auth/oidc/login?returnTo=${encodeURIComponent(returnTo)}`);
  if (res.status !== 303) throw new Error(`login answered ${res.status} ${await res.text()}`);
  return new URL(res.headers.get('location')!);
}

/** The whole sign-in; returns the callback's response (303 to returnTo, with the session cookie). */
export async function signIn(browser: TestBrowser, origin: string, username = 'alice', returnTo = '/app'): Promise<Response> {
  const authorization = await startLogin(browser, origin, returnTo);
  const callback = await authorizeAtIdp(browser, authorization.href, username, IDP_ACCOUNTS.find((a) => a.username === username)!.password);
  return browser.request(callback.href);
}
