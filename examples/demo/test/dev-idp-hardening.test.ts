/**
 * The development IdP's own defences, over real HTTP: every page it serves (its sign-in form, oidc-provider's logout
 * prompt and error page) carries a CSP that forbids framing and allows nothing but the page's one stylesheet; and the
 * demo's mapUser trusts a `sub` only from the bundled IdP's issuer (another IdP naming a user `user-alice` is not alice).
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { authorizeAtIdp, freePort, HttpDevice, startLogin } from '@latchkey/testkit';
import { createDemoApp, type DemoApp } from '../src/app.js';
import { readDemoConfig } from '../src/config.js';
import { DEV_IDP_CLIENT_ID, DEV_IDP_CLIENT_SECRET, startDevIdp } from '../src/dev-idp.js';
import { createDemoMapUser } from '../src/map-user.js';

const SECRET = 'dev-idp-hardening-secret-0123456789-abcdefgh';
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop();
});

/** An IdP on a free port whose only account, mallory, has the `sub` of the demo's alice. */
async function startForeignIdp(callbackOrigin: string) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const idp = await startDevIdp({
    issuer,
    port,
    allowLoopbackPorts: false,
    accounts: [{ username: 'mallory', password: 'mallory-password', sub: 'user-alice', name: 'Mallory', email: 'mallory@example.com' }],
    clients: [
      {
        clientId: DEV_IDP_CLIENT_ID,
        clientSecret: DEV_IDP_CLIENT_SECRET,
        redirectUris: [`${callbackOrigin}/auth/oidc/callback`],
        postLogoutRedirectUris: [`${callbackOrigin}/`],
        backchannelLogoutUri: `${callbackOrigin}/auth/oidc/backchannel-logout`,
      },
    ],
  });
  cleanup.push(() => idp.stop());
  return { ...idp, issuer };
}

/** The inline stylesheets or scripts of a page, as CSP hash sources. */
const inlineHashes = (html: string, tag: 'style' | 'script') =>
  [...html.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`);

function expectPageHeaders(res: Response, html: string, formTargets: string[]) {
  const policy = res.headers.get('content-security-policy')!;
  const directives = Object.fromEntries(
    policy.split(';').map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name!, values];
    }),
  );
  expect(directives['frame-ancestors']).toEqual(["'none'"]);
  expect(directives['default-src']).toEqual(["'none'"]);
  expect(directives['base-uri']).toEqual(["'none'"]);
  // No script, but the hash of each inline one oidc-provider writes itself (the auto-submitting form of a logout).
  expect(directives['script-src']).toEqual(["'none'", ...inlineHashes(html, 'script')]);
  expect(directives['form-action']).toEqual(["'self'", ...formTargets]);
  // One stylesheet allowed, by hash; every inline style of the page is it (and the page loads nothing).
  expect(directives['style-src']).toEqual([expect.stringMatching(/^'sha256-[\w+/]{43}='$/)]);
  for (const hash of inlineHashes(html, 'style')) expect(directives['style-src']).toEqual([hash]);
  expect(html).not.toMatch(/@import|https?:\/\/fonts|<script src/i);
  expect(res.headers.get('x-frame-options')).toBe('DENY');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
}

describe('the development IdP’s pages', () => {
  it('the sign-in form, the logout prompt and the error page: no framing, nothing but their stylesheet, forms only to the clients', async () => {
    const client = 'http://127.0.0.1:9';
    const idp = await startForeignIdp(client);
    const browser = new HttpDevice();
    const authorize = new URL(`${idp.issuer}/auth`);
    authorize.search = new URLSearchParams({
      client_id: DEV_IDP_CLIENT_ID,
      response_type: 'code',
      redirect_uri: `${client}/auth/oidc/callback`,
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    }).toString();
    const toForm = await browser.follow(authorize.href, (next) => next.pathname.startsWith('/interaction/'));
    const form = await browser.request(toForm.stoppedAt!.href);
    const formHtml = await form.text();
    expect(formHtml).toContain('<h1>Development identity provider</h1>');
    expect(inlineHashes(formHtml, 'style')).toHaveLength(1);
    expectPageHeaders(form, formHtml, [client]);

    // Signed in at the IdP: the logout asks first (the IdP's own prompt page).
    await authorizeAtIdp(browser, authorize.href, 'mallory', 'mallory-password');
    const logout = await browser.request(`${idp.issuer}/session/end`);
    const logoutHtml = await logout.text();
    expect(logout.status).toBe(200);
    expect(logoutHtml).toContain('Yes, sign me out');
    expect(logoutHtml).not.toContain('<script');
    expect(inlineHashes(logoutHtml, 'style')).toHaveLength(1);
    expectPageHeaders(logout, logoutHtml, [client]);
    // Not signed in there: oidc-provider's page posts the confirmation by itself, its script allowed by its hash.
    const autoSubmit = await new HttpDevice().request(`${idp.issuer}/session/end`);
    const autoSubmitHtml = await autoSubmit.text();
    expect(inlineHashes(autoSubmitHtml, 'script')).toHaveLength(1);
    expectPageHeaders(autoSubmit, autoSubmitHtml, [client]);

    const error = await fetch(`${idp.issuer}/auth?client_id=nobody&response_type=code&scope=openid`);
    const errorHtml = await error.text();
    expect(error.status).toBe(400);
    expect(errorHtml).toContain('invalid_client');
    expectPageHeaders(error, errorHtml, [client]);
  });

  it('with loopback ports allowed (the demo), forms may also end on any loopback port', async () => {
    const port = await freePort();
    const idp = await startDevIdp({
      issuer: `http://localhost:${port}`,
      port,
      accounts: [],
      clients: [
        {
          clientId: 'c',
          clientSecret: 's'.repeat(32),
          redirectUris: ['http://localhost:1/cb'],
          postLogoutRedirectUris: [],
          backchannelLogoutUri: 'http://localhost:1/bc',
        },
      ],
    });
    cleanup.push(() => idp.stop());
    const res = await fetch(`http://127.0.0.1:${port}/auth?client_id=nobody`);
    expect(res.headers.get('content-security-policy')).toMatch(/form-action 'self' http:\/\/localhost:1 http:\/\/localhost:\* http:\/\/127\.0\.0\.1:\*;/);
  });
});

describe('the demo’s mapUser takes the issuer into account', () => {
  it('a demo account id is that account only from the bundled IdP', () => {
    const mapUser = createDemoMapUser('http://localhost:3000/idp');
    expect(mapUser({ iss: 'http://localhost:3000/idp', sub: 'user-alice' })).toEqual({ id: 'user-alice', name: 'Alice Liddell' });
    expect(mapUser({ iss: 'https://idp.example', sub: 'user-alice', name: 'Mallory' })).toEqual({ id: 'https://idp.example|user-alice', name: 'Mallory' });
    expect(mapUser({ iss: 'http://localhost:3000/idp', sub: 'someone-else' })).toEqual({ id: 'http://localhost:3000/idp|someone-else', name: 'someone-else' });
    expect(createDemoMapUser(undefined)({ iss: 'http://localhost:3000/idp', sub: 'user-alice' })).toEqual({
      id: 'http://localhost:3000/idp|user-alice',
      name: 'user-alice',
    });
  });

  it('the demo on an external IdP (LATCHKEY_OIDC_ISSUER) whose user has the sub user-alice: signed in as that IdP’s user, not as alice', async () => {
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    const idp = await startForeignIdp(origin);
    const config = readDemoConfig({
      LATCHKEY_SECRET: SECRET,
      PORT: String(port),
      LATCHKEY_OIDC_ISSUER: idp.issuer,
      LATCHKEY_OIDC_CLIENT_ID: DEV_IDP_CLIENT_ID,
      LATCHKEY_OIDC_CLIENT_SECRET: DEV_IDP_CLIENT_SECRET,
    });
    const demo: DemoApp = await createDemoApp({ ...config, port }, pino({ level: 'silent' }));
    const server: Server = await new Promise((resolve) => {
      const s = demo.app.listen(port, () => resolve(s));
    });
    cleanup.push(async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await demo.close();
    });

    const browser = new HttpDevice(origin);
    const callback = await authorizeAtIdp(browser, (await startLogin(browser, origin, '/')).href, 'mallory', 'mallory-password');
    expect((await browser.request(callback.href)).status).toBe(303);
    const refreshed = await browser.refresh();
    expect(refreshed.status).toBe(200);
    const body = (await refreshed.json()) as { user: { id: string; name: string }; accessToken: string };
    expect(body.user).toEqual({ id: `${idp.issuer}|user-alice`, name: 'Mallory' });
    const me = await fetch(`${origin}/api/me`, { headers: { Authorization: `Bearer ${body.accessToken}` } });
    expect(await me.json()).toMatchObject({ sub: `${idp.issuer}|user-alice`, scope: '' });
  });
});
