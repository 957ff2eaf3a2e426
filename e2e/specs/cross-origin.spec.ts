/**
 * A BFF on another origin than the page, in real Chromium: the page on https://app.example.com:<P1>, the BFF on
 * https://auth.example.com:<P2> (same site: `com` is the public suffix, so both hosts belong to the site example.com), with
 * `origins: { cors: true, allowed: [the page] }`. Chromium resolves *.example.com and *.example.net to 127.0.0.1
 * (--host-resolver-rules): nothing leaves the machine. TLS with a certificate made for the run, because the
 * `__Host-` cookie needs a secure origin, and Chromium treats only localhost (and *.localhost) as one over plain
 * http — but every *.localhost host is a site of its own (localhost is no registrable domain), so app.localhost and
 * bff.localhost are cross-site and a SameSite=Strict cookie would never go from one to the other.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import express from 'express';
import { pino } from 'pino';
import selfsigned from 'selfsigned';
import { test as base, expect, type Browser, type Page } from '@playwright/test';
import { createBff, RedisStore, type Bff } from '@latchkey/bff';
import { createDemoAuthenticate } from '../../examples/demo/src/accounts.js';
import { startRedisServer, type RedisServer } from '@latchkey/testkit';

const RESOLVE_TO_LOOPBACK = '--host-resolver-rules=MAP *.example.com 127.0.0.1, MAP *.example.net 127.0.0.1';

const test = base.extend<object, { browser: Browser }>({
  browser: [
    async ({ playwright, launchOptions }, use) => {
      const browser = await playwright.chromium.launch({ ...launchOptions, args: [...(launchOptions.args ?? []), RESOLVE_TO_LOOPBACK] });
      await use(browser);
      await browser.close();
    },
    { scope: 'worker' },
  ],
});
test.use({ ignoreHTTPSErrors: true });

const repo = (path: string) => fileURLToPath(new URL('../../' + path, import.meta.url));

/** What reached the BFF, as it saw it (the cookie's presence only, never its value). */
interface Seen {
  method: string;
  path: string;
  origin: string | undefined;
  cookie: boolean;
  status: number;
}

let redis: RedisServer;
let store: RedisStore;
let bff: Bff;
let pageServer: Server;
let bffServer: Server;
let seen: Seen[] = [];
let APP: string; // the page's origin, listed
let BFF: string;
let SIBLING: string; // same site as both, not listed
let CROSS_SITE: string; // listed too, but another site: its cookie never comes back

const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

test.beforeAll(async () => {
  redis = await startRedisServer();
  store = await RedisStore.connect({ url: redis.url });
  const { private: key, cert } = await selfsigned.generate([{ name: 'commonName', value: 'example.com' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: '*.example.com' },
          { type: 2, value: '*.example.net' },
        ],
      },
    ],
  });
  const bundle = await build({
    entryPoints: [repo('e2e/support/cross-origin-page.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    alias: {
      '@latchkey/client/axios': repo('client/src/axios/index.ts'),
      '@latchkey/client': repo('client/src/index.ts'),
      '@latchkey/shared': repo('shared/src/index.ts'),
    },
    logLevel: 'error',
  });
  const script = bundle.outputFiles[0]!.text;

  const pageApp = express();
  const bffApp = express();
  pageServer = createServer({ key, cert }, pageApp);
  bffServer = createServer({ key, cert }, bffApp);
  const pagePort = await listen(pageServer);
  const bffPort = await listen(bffServer);
  APP = `https://app.example.com:${pagePort}`;
  SIBLING = `https://other.example.com:${pagePort}`;
  CROSS_SITE = `https://app.example.net:${pagePort}`;
  BFF = `https://auth.example.com:${bffPort}`;

  bff = await createBff({
    store,
    secrets: [`e2e-${randomBytes(24).toString('base64url')}`],
    tokens: { issuer: BFF },
    authenticate: await createDemoAuthenticate(),
    origins: { allowed: [APP, CROSS_SITE], cors: true },
    logger: pino({ level: 'silent' }),
  });
  bffApp.use((req, res, next) => {
    const entry = { method: req.method, path: req.path, origin: req.get('origin'), cookie: !!req.get('cookie') };
    res.on('finish', () => seen.push({ ...entry, status: res.statusCode }));
    next();
  });
  bffApp.use('/auth', bff.router);

  // The application's server: its page (on whichever host name it was asked for) and its API, guarded by the BFF.
  pageApp.get('/', (req, res) => {
    const config = { bffUrl: `${BFF}/auth`, apiOrigins: [`https://${req.get('host')}`] };
    res
      .type('html')
      .send(`<!doctype html><title>cross-origin</title><script>window.crossOriginConfig = ${JSON.stringify(config)}</script><script src="/page.js"></script>`);
  });
  pageApp.get('/page.js', (_req, res) => void res.type('js').send(script));
  pageApp.get('/api/me', bff.requireAuth(), (req, res) => void res.json({ sub: req.auth!.sub, sid: req.auth!.sid }));
  pageApp.use(bff.errorHandler);
});

test.afterAll(async () => {
  await bff?.close();
  for (const server of [pageServer, bffServer]) {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  }
  await store?.close();
  await redis?.stop();
});

test.beforeEach(() => {
  seen = [];
});

type Snapshot = { status: string; unreachable: boolean; user: string | null; sid: string | null };
const snapshot = (page: Page) => page.evaluate(() => (window.e2e as { snapshot(): Snapshot }).snapshot());
const run = <T>(page: Page, name: string, ...args: string[]) =>
  page.evaluate(([name, args]) => (window.e2e as Record<string, (...a: string[]) => Promise<T>>)[name]!(...args), [name, args] as const);

async function open(page: Page, origin: string): Promise<void> {
  await page.goto(origin + '/');
  await expect.poll(async () => (await snapshot(page)).status).not.toBe('loading');
}

test('login, refresh, reload and logout work from app.example.com against a BFF on auth.example.com', async ({ page, context }) => {
  const authorization: Array<{ url: string; auth: string | undefined }> = [];
  // headers() (synchronous, so nothing can be missed) holds what the page's script set, Authorization included.
  page.on('request', (request) => authorization.push({ url: request.url(), auth: request.headers().authorization }));

  await open(page, APP);
  // The first refresh's 401 was readable (CORS): a definitive "no session", not "unreachable".
  expect(await snapshot(page)).toMatchObject({ status: 'unauthenticated', unreachable: false });

  await run(page, 'login', 'alice', 'wonderland');
  expect(await snapshot(page)).toMatchObject({ status: 'authenticated', user: 'Alice Liddell' });
  const sessionCookie = async () => (await context.cookies(BFF)).find((c) => c.name === '__Host-latchkey');
  const cookie = await sessionCookie();
  expect(cookie).toMatchObject({ name: '__Host-latchkey', domain: 'auth.example.com', secure: true, httpOnly: true, sameSite: 'Strict' });
  expect(await context.cookies(APP)).toEqual([]); // host-only: the page's origin never holds it

  const me = await run<{ sub: string; sid: string }>(page, 'me');
  expect(me.sub).toBe('user-alice');

  // Refresh: the cookie went with the cross-origin request (same site, so SameSite=Strict sends it) and rotated.
  const before = cookie!.value;
  await run(page, 'refresh');
  expect((await sessionCookie())!.value).not.toBe(before);
  expect(
    seen
      .filter((s) => s.path === '/auth/refresh')
      .map((s) => [s.origin, s.cookie, s.status])
      .at(-1),
  ).toEqual([APP, true, 200]);

  // A reload restores the session from the cookie alone.
  await open(page, APP);
  expect(await snapshot(page)).toMatchObject({ status: 'authenticated', user: 'Alice Liddell', sid: me.sid });

  // The BFF's clock header is exposed to the page (the client reads token expiries in it).
  expect(await page.evaluate(async (bff) => (await fetch(bff + '/auth/jwks.json')).headers.get('date'), BFF)).toMatch(/GMT$/);

  // The bearer token went to the page's own API only, never to the BFF origin (not in apiOrigins).
  expect(await run<number>(page, 'jwksThroughAxios')).toBe(200);
  const withToken = authorization.filter((r) => r.auth);
  expect(withToken.map((r) => [r.url, r.auth!.split(' ')[0]])).toEqual([[APP + '/api/me', 'Bearer']]);
  expect(authorization.filter((r) => r.url.startsWith(BFF + '/auth/')).length).toBeGreaterThan(3);

  await run(page, 'logout');
  expect(await snapshot(page)).toMatchObject({ status: 'unauthenticated' });
  // Only the known-device cookie outlives a logout (on purpose: docs/security.md); the session and its hint are gone.
  expect((await context.cookies(BFF)).map((c) => c.name)).toEqual(['__Host-latchkey-device']);
  await open(page, APP);
  expect(await snapshot(page)).toMatchObject({ status: 'unauthenticated', unreachable: false });
});

test('a sibling origin of the same site that is not listed is refused by CORS: its requests never carry the cookie in', async ({ page, context }) => {
  await open(page, APP);
  await run(page, 'login', 'alice', 'wonderland');
  const sid = (await snapshot(page)).sid;

  // other.example.com is same-site with the BFF: SameSite=Strict would let the cookie go. CORS and the Origin check stop it.
  const sibling = await context.newPage();
  seen = [];
  await sibling.goto(SIBLING + '/');
  await expect.poll(async () => (await snapshot(sibling)).unreachable).toBe(true); // its refresh failed as a network error
  expect((await snapshot(sibling)).status).not.toBe('authenticated');
  const attempt = await sibling.evaluate(async (bff) => {
    try {
      await fetch(bff + '/auth/logout', { method: 'POST', credentials: 'include', headers: { 'X-CSRF': '1', 'Content-Type': 'application/json' }, body: '{}' });
      return 'answered';
    } catch (error) {
      return String(error);
    }
  }, BFF);
  expect(attempt).toMatch(/TypeError/);
  // Only refused preflights reached the BFF: no POST, so nothing was done with the cookie.
  const fromSibling = seen.filter((s) => s.origin === SIBLING);
  expect(fromSibling.length).toBeGreaterThan(0);
  expect(fromSibling.map((s) => [s.method, s.status, s.cookie])).toEqual(fromSibling.map(() => ['OPTIONS', 403, false]));

  // The session is untouched: the page on the listed origin still refreshes.
  await run(page, 'refresh');
  expect(await snapshot(page)).toMatchObject({ status: 'authenticated', sid });
});

test('a listed origin on another site gets answers but no cookie: cross-site is not supported (docs/deployment.md)', async ({ page, context }) => {
  await open(page, CROSS_SITE);
  expect(await snapshot(page)).toMatchObject({ status: 'unauthenticated', unreachable: false }); // CORS lets it read the 401
  await run(page, 'login', 'alice', 'wonderland');
  expect(await snapshot(page)).toMatchObject({ status: 'authenticated' }); // the token response was readable...
  // ...but the SameSite=Strict cookie set by a cross-site response is not kept, and so never sent back.
  expect(await context.cookies(BFF)).toEqual([]);
  // The refresh reaches the BFF without a cookie: a definitive 401, and the page is signed out.
  expect(await run(page, 'refresh')).toBeNull();
  expect(await snapshot(page)).toMatchObject({ status: 'unauthenticated', unreachable: false });
  expect(seen.filter((s) => s.path === '/auth/refresh').at(-1)).toMatchObject({ origin: CROSS_SITE, cookie: false, status: 401 });
  expect(seen.filter((s) => s.method === 'POST' && s.path === '/auth/refresh').every((s) => !s.cookie)).toBe(true);
});
