import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration, type ResponseType } from 'oidc-provider';

/**
 * A development identity provider: node-oidc-provider (the certified OpenID Provider for Node), in process, with a
 * small login page over a fixed account table. For the demo (`LATCHKEY_DEMO_IDP=true`) and the tests; never for
 * production (keys and state live in memory, the accounts are hard-coded, http is allowed).
 *
 * Features: authorization code + PKCE, refresh tokens (issued whenever the client may use the grant, as Keycloak
 * does), `sid` in ID tokens, RP-initiated logout, back-channel logout to the client's `backchannel_logout_uri`.
 */
export interface DevIdpAccount {
  username: string;
  password: string;
  /** The `sub`. */
  sub: string;
  name: string;
  email: string;
}

export interface DevIdpClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string;
}

export interface DevIdpOptions {
  /** The issuer URL, including the mount path when mounted under one (e.g. `http://localhost:3000/idp`). */
  issuer: string;
  accounts: readonly DevIdpAccount[];
  clients: readonly DevIdpClient[];
  /** Access token lifetime, default 3600 s. */
  accessTokenTtlSeconds?: number;
  /**
   * Accept any loopback (localhost, 127.0.0.1) redirect and post-logout URI whose path is one of the registered ones,
   * on any port: several demo processes on several ports share one IdP. Default true (development IdP).
   */
  allowLoopbackPorts?: boolean;
  /**
   * Resource servers (APIs) that check this IdP's access tokens by introspection (RFC 7662, `/token/introspection`
   * with client_secret_basic). They get no grant of their own. None: introspection is off.
   */
  resourceServers?: ReadonlyArray<{ clientId: string; clientSecret: string }>;
}

export { DEV_IDP_CLIENT_ID, DEV_IDP_CLIENT_SECRET } from './dev-idp-client.js';

export interface DevIdp {
  provider: Provider;
  /** Express app to mount at the issuer's path (or serve on its own). */
  app: Express;
  /** The IdP's private signing key (JWK). Tests sign logout tokens with it; nothing else should touch it. */
  signingJwk: Record<string, unknown>;
}

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const isLoopback = (url: URL) => url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '127.0.0.1');

/** The one stylesheet of the IdP's pages, inline and allowed by its hash: no other style, and no script at all. */
const PAGE_STYLE = 'body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto}label{display:block;margin:.5rem 0}input{width:100%}';
const PAGE_STYLE_HASH = `'sha256-${createHash('sha256').update(PAGE_STYLE).digest('base64')}'`;

/**
 * The headers of every answer of the IdP (its pages, and oidc-provider's own: the logout prompt, errors). Its sign-in
 * form takes a password: no framing by any page (`frame-ancestors 'none'`, X-Frame-Options for old browsers, against
 * clickjacking), nothing loaded from anywhere (`default-src 'none'`), the pages' one stylesheet by hash. `form-action`
 * also covers the redirects that follow a submit (Chromium checks them): the sign-in form ends at a client's redirect
 * URI and the logout prompt at its post-logout URI, so their origins are listed (with `allowLoopbackPorts`, every
 * loopback port). `script-src 'none'`: the pages have no script; oidc-provider adds the hash of its one auto-submit
 * script to a `script-src` it finds (a logout without an IdP session posts its confirmation that way), and a browser
 * then ignores the `'none'` beside it.
 */
function pageHeaders(options: DevIdpOptions): RequestHandler {
  const registered = options.clients.flatMap((c) => [...c.redirectUris, ...c.postLogoutRedirectUris]).map((u) => new URL(u).origin);
  const loopback = (options.allowLoopbackPorts ?? true) ? ['http://localhost:*', 'http://127.0.0.1:*'] : [];
  const formTargets = [...new Set(["'self'", ...registered, ...loopback])];
  const policy = [
    "default-src 'none'",
    "script-src 'none'",
    `style-src ${PAGE_STYLE_HASH}`,
    `form-action ${formTargets.join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return (_req, res, next) => {
    res.set({ 'Content-Security-Policy': policy, 'X-Frame-Options': 'DENY', 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });
    next();
  };
}

/** An IdP page: the one stylesheet, a heading, the body. */
function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE}</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

export async function createDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const mountPath = new URL(options.issuer).pathname.replace(/\/$/, '');
  const accounts = new Map(options.accounts.map((a) => [a.sub, a]));
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };

  const configuration: Configuration = {
    clients: [
      ...options.clients.map((c) => ({
        client_id: c.clientId,
        client_secret: c.clientSecret,
        redirect_uris: c.redirectUris,
        post_logout_redirect_uris: c.postLogoutRedirectUris,
        backchannel_logout_uri: c.backchannelLogoutUri,
        backchannel_logout_session_required: true,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'] as ResponseType[],
        token_endpoint_auth_method: 'client_secret_basic' as const,
      })),
      // Resource servers only introspect: no grant, no redirect.
      ...(options.resourceServers ?? []).map((r) => ({
        client_id: r.clientId,
        client_secret: r.clientSecret,
        redirect_uris: [],
        grant_types: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic' as const,
      })),
    ],
    jwks: { keys: [signingKey as never] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // Its own pages instead of oidc-provider's defaults, whose inline styles import a web font (the CSP allows neither).
        logoutSource: (ctx, form) => {
          ctx.type = 'html';
          ctx.body = page(
            'Sign out',
            `<p>Do you want to sign out of the development identity provider?</p>
${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`,
          );
        },
        postLogoutSuccessSource: (ctx) => {
          ctx.type = 'html';
          ctx.body = page('Signed out', '<p>You are signed out of the development identity provider.</p>');
        },
      },
      revocation: { enabled: true },
      introspection: { enabled: (options.resourceServers ?? []).length > 0 },
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: options.accessTokenTtlSeconds ?? 3600,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 600,
      Session: 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    interactions: { url: (_ctx, interaction) => `${mountPath}/interaction/${interaction.uid}` },
    findAccount: async (_ctx, sub) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        claims: async () => ({ sub, name: account.name, preferred_username: account.username, email: account.email, email_verified: true }),
      };
    },
    // The default fetch refuses loopback addresses (SSRF protection); a development IdP talks to a BFF on localhost.
    fetch: (url, init) => {
      const { dispatcher: _dispatcher, ...rest } = init as RequestInit & { dispatcher?: unknown };
      return fetch(url, rest);
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page(
        'Identity provider error',
        `<p><strong>${escapeHtml(String(out.error))}</strong></p><p>${escapeHtml(String(out.error_description ?? ''))}</p>`,
      );
    },
  };
  const provider = new Provider(options.issuer, configuration);
  if (options.allowLoopbackPorts ?? true) allowLoopbackPorts(provider);
  provider.on('backchannel.error', (_ctx, error) => process.stderr.write(`dev IdP: back-channel logout failed: ${(error as Error).message}\n`));

  const app = express();
  app.disable('x-powered-by');
  app.use(pageHeaders(options));
  const form = express.urlencoded({ extended: false, limit: '4kb' });

  app.get('/interaction/:uid', async (req, res, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      res
        .set('Cache-Control', 'no-store')
        .type('html')
        .send(loginPage(mountPath, details.uid, String(details.params.client_id), null));
    } catch (error) {
      next(error);
    }
  });

  app.post('/interaction/:uid/login', form, async (req: Request, res: Response, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const { username, password } = req.body as { username?: string; password?: string };
      const account = options.accounts.find((a) => a.username === username?.trim().toLowerCase());
      if (!account || account.password !== password) {
        res
          .status(401)
          .set('Cache-Control', 'no-store')
          .type('html')
          .send(loginPage(mountPath, details.uid, String(details.params.client_id), 'Wrong username or password.'));
        return;
      }
      // The development IdP grants what the client asked for without a consent screen.
      const grant = new provider.Grant({ accountId: account.sub, clientId: String(details.params.client_id) });
      grant.addOIDCScope(String(details.params.scope ?? 'openid'));
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { login: { accountId: account.sub }, consent: { grantId } }, { mergeWithLastSubmission: false });
    } catch (error) {
      next(error);
    }
  });

  app.get('/interaction/:uid/abort', async (req, res, next) => {
    try {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled the sign-in.' },
        { mergeWithLastSubmission: false },
      );
    } catch (error) {
      next(error);
    }
  });

  // "Sign this user out everywhere", as an IdP administrator would: a back-channel logout token naming only the user
  // (`sub`, no `sid`) to every client that registered a back-channel logout URI. Development IdP only.
  app.post('/dev/sign-out-everywhere', form, async (req, res, next) => {
    try {
      const { username } = req.body as { username?: string };
      const account = options.accounts.find((a) => a.username === username);
      if (!account) {
        res.status(404).type('text').send('unknown user');
        return;
      }
      for (const registered of options.clients) {
        const client = await provider.Client.find(registered.clientId);
        await (client as unknown as { backchannelLogout(sub: string, sid?: string): Promise<void> }).backchannelLogout(account.sub, undefined);
      }
      res.status(204).end();
    } catch (error) {
      next(error);
    }
  });

  app.use(provider.callback());
  return { provider, app, signingJwk: signingKey as Record<string, unknown> };
}

/** Serves a development IdP on its own port (tests). */
export async function startDevIdp(options: DevIdpOptions & { port: number }): Promise<DevIdp & { stop(): Promise<void>; start(): Promise<void> }> {
  const idp = await createDevIdp(options);
  let server: Server | undefined;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      server = idp.app.listen(options.port, '127.0.0.1', () => resolve());
      server.once('error', reject);
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
      server = undefined;
    });
  await start();
  return { ...idp, start, stop };
}

function allowLoopbackPorts(provider: Provider): void {
  const samePathOnLoopback = (registered: string[], value: string) => {
    if (registered.includes(value)) return true;
    if (!URL.canParse(value)) return false;
    const candidate = new URL(value);
    return (
      isLoopback(candidate) &&
      registered.some((r) => isLoopback(new URL(r)) && new URL(r).pathname === candidate.pathname && !candidate.search && !candidate.hash)
    );
  };
  const prototype = provider.Client.prototype as unknown as {
    redirectUris: string[];
    postLogoutRedirectUris: string[];
    redirectUriAllowed(value: string): boolean;
    postLogoutRedirectUriAllowed(value: string): boolean;
  };
  prototype.redirectUriAllowed = function redirectUriAllowed(value: string) {
    return samePathOnLoopback(this.redirectUris, value);
  };
  prototype.postLogoutRedirectUriAllowed = function postLogoutRedirectUriAllowed(value: string) {
    return samePathOnLoopback(this.postLogoutRedirectUris ?? [], value);
  };
}

function loginPage(mountPath: string, uid: string, clientId: string, error: string | null): string {
  return page(
    'Development identity provider',
    `<p>Sign in to continue to <strong>${escapeHtml(clientId)}</strong>.</p>
${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${escapeHtml(mountPath)}/interaction/${escapeHtml(uid)}/login">
<label>Username <input name="username" autocomplete="username" autofocus required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
<p><a href="${escapeHtml(mountPath)}/interaction/${escapeHtml(uid)}/abort">Cancel</a></p>`,
  );
}
