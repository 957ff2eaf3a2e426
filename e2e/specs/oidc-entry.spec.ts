/**
 * The OIDC entry point under attack, in real Chromium against the demo with its development IdP (LATCHKEY_DEMO_IDP):
 * - a page on another site loops through `/auth/oidc/login` (frames, images, popups, navigations) while the victim
 *   holds an SSO session at the IdP, which would make every round a silent sign-in: no device session is created,
 *   none is evicted, and password login still works;
 * - 31 cross-site images of `/auth/oidc/login` neither make `POST /auth/login` answer 429 nor write a login transaction;
 * - each open-redirect payload of `returnTo` ends on the demo's own origin, never on another.
 * The attacker's page is served from http://127.0.0.1:<port>: another site than the demo's http://localhost:<port>.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import type { BrowserContext, Page, Request, Response } from '@playwright/test';
import { RedisStore } from '@latchkey/bff';
import { callMeSucceeds, expectSignedIn, login, newSignedInPage, openDemo, status } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ idp: true });

/** The flow crosses several redirects: on a loaded machine that takes longer than one action. */
const FLOW = { timeout: 45_000 };
const pathOf = (url: string) => new URL(url).pathname;

let attacker: Server;
let ATTACKER: string;
/** The attacker's page: whatever `?html=` says (the spec writes it). */
test.beforeAll(async () => {
  attacker = createServer((req, res) => {
    const html = new URL(req.url ?? '/', 'http://x').searchParams.get('html') ?? '';
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', () => resolve()));
  ATTACKER = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
});
test.afterAll(async () => {
  await new Promise<void>((resolve) => {
    attacker?.close(() => resolve());
    attacker?.closeAllConnections();
  });
});

const attackPage = (html: string) => `${ATTACKER}/?html=${encodeURIComponent(`<!doctype html><title>cute cats</title><body>${html}</body>`)}`;

/** On the demo page (signed out): the IdP button, the IdP's login form, and back, signed in. Leaves an SSO cookie at the IdP. */
async function signInAtIdp(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await openDemo(page);
  await page.getByTestId('idp-sign-in').click();
  await page.waitForURL((url) => url.pathname.startsWith('/idp/interaction/'), FLOW);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('wonderland');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/', FLOW);
  await expectSignedIn(page, FLOW.timeout);
  return page;
}

async function withStore<T>(use: (store: RedisStore, redis: Redis) => Promise<T>): Promise<T> {
  const store = await RedisStore.connect({ url: stack().redis.url });
  const redis = new Redis(stack().redis.url);
  try {
    return await use(store, redis);
  } finally {
    redis.disconnect();
    await store.close();
  }
}

const aliceSessions = () => withStore(async (store) => (await store.listUserSessions('user-alice', Date.now())).map((s) => s.sid).sort());
const loginTransactions = () => withStore(async (_store, redis) => (await redis.keys('*tx:oidc:*')).length);

/**
 * Every request of `/auth/oidc/login` in the context, until `stop()`: how many, how many settled (answered, or
 * failed in the browser: an image, script or no-cors fetch of a 403 is blocked by its Cross-Origin-Resource-Policy),
 * and the statuses the browser saw.
 */
function recordLoginStarts(context: BrowserContext) {
  const isStart = (r: Request) => pathOf(r.url()) === '/auth/oidc/login';
  const seen = { requests: 0, settled: 0, statuses: [] as number[] };
  const onRequest = (r: Request) => void (isStart(r) && seen.requests++);
  const onSettled = (r: Request) => void (isStart(r) && seen.settled++);
  const onResponse = (r: Response) => void (isStart(r.request()) && seen.statuses.push(r.status()));
  context.on('request', onRequest);
  context.on('requestfinished', onSettled);
  context.on('requestfailed', onSettled);
  context.on('response', onResponse);
  return {
    seen,
    stop: () => {
      context.off('request', onRequest);
      context.off('requestfinished', onSettled);
      context.off('requestfailed', onSettled);
      context.off('response', onResponse);
    },
  };
}

/** How many sign-in starts the demo has refused so far (its security log). */
const refusedStarts = () => stack().demo.output().split('"event":"oidc_login_refused"').length - 1;

test('a page on another site loops through /auth/oidc/login while the victim has an SSO session: no session created, nobody evicted', async ({ newDevice }) => {
  test.setTimeout(120_000);
  const victim = await newDevice();
  const victimPage = await signInAtIdp(victim);
  // The victim's phone, signed in with the password.
  const phone = await newDevice();
  const phonePage = await newSignedInPage(phone, 'alice', 'phone');
  const before = await aliceSessions();
  expect(before).toHaveLength(2);

  const demo = stack().demo.url;
  const start = `${demo}/auth/oidc/login`;
  const starts = recordLoginStarts(victim);
  const refusedBefore = refusedStarts();
  const evil = await victim.newPage();
  // Every way a page can make the browser request it: popups (top-level navigations, which carry the IdP's Lax SSO
  // cookie: before the entry check each one was a silent sign-in), frames, images, a script, no-cors fetches, and a
  // link the victim clicks. returnTo /api/public: a sign-in that never loads the application, so never refreshes.
  await evil.goto(
    attackPage(`<a id="go" href="${start}?returnTo=/&link=1">free cats</a><script>
      const start = ${JSON.stringify(start)};
      for (let i = 0; i < 4; i++) window.open(start + '?returnTo=' + (i % 2 ? '/' : '/api/public') + '&w=' + i);
      for (let i = 0; i < 5; i++) {
        const frame = document.createElement('iframe'); frame.src = start + '?f=' + i; document.body.append(frame);
        const img = new Image(); img.src = start + '?i=' + i; document.body.append(img);
        fetch(start + '?n=' + i, { mode: 'no-cors', credentials: 'include' }).catch(() => {});
      }
      const script = document.createElement('script'); script.src = start + '?s=1'; document.body.append(script);
    </script>`),
  );
  await expect.poll(() => starts.seen.requests, { timeout: 20_000 }).toBe(20);
  await evil.click('#go');
  await evil.waitForURL((url) => url.origin === demo, FLOW);
  await expect.poll(() => starts.seen.settled, { timeout: 20_000 }).toBe(21);
  starts.stop();
  // Let every tab finish wherever it was sent (before the entry check: through the IdP and back, signed in).
  for (const tab of victim.pages()) await tab.waitForLoadState('networkidle').catch(() => undefined);

  // No device session was created, none was evicted: both devices still work.
  expect(await aliceSessions()).toEqual(before);
  await callMeSucceeds(victimPage);
  await callMeSucceeds(phonePage);
  // Password login still works from this address (nothing was counted).
  const laptop = await newDevice();
  const laptopPage = await laptop.newPage();
  await openDemo(laptopPage);
  await login(laptopPage, 'bob', 'laptop');
  // Every start reached the BFF and was refused there, before anything: 403, never a redirect to the IdP.
  expect(refusedStarts() - refusedBefore).toBe(21);
  expect(starts.seen.statuses.length).toBeGreaterThanOrEqual(5);
  expect(new Set(starts.seen.statuses)).toEqual(new Set([403]));
  expect(new URL(evil.url()).pathname).toBe('/auth/oidc/login');
  expect(await evil.locator('body').innerText()).toContain('csrf_rejected');
  for (const popup of victim.pages().filter((p) => p.url().includes('&w='))) expect(new URL(popup.url()).pathname).toBe('/auth/oidc/login');
  // And a sign-in the victim starts on the demo itself still goes through, silently (same-origin navigation).
  const again = await victim.newPage();
  await again.goto('/auth/oidc/login?returnTo=/api/public', FLOW);
  expect(again.url()).toBe(`${demo}/api/public`);
});

test('31 cross-site images of /auth/oidc/login: POST /auth/login still answers and no login transaction is written', async ({ newDevice }) => {
  test.setTimeout(90_000);
  const device = await newDevice();
  const starts = recordLoginStarts(device);
  const refusedBefore = refusedStarts();
  const evil = await device.newPage();
  const start = `${stack().demo.url}/auth/oidc/login?returnTo=/`;
  await evil.goto(
    attackPage(
      `<script>for (let i = 0; i < 31; i++) { const img = new Image(); img.src = ${JSON.stringify(start)} + '&i=' + i; document.body.append(img); }</script>`,
    ),
  );
  await expect.poll(() => starts.seen.settled, { timeout: 20_000 }).toBe(31);
  starts.stop();

  // Password login answers from the same address, and nothing was written.
  const page = await device.newPage();
  await openDemo(page);
  await expect(status(page)).toHaveText(/unauthenticated/i);
  await login(page, 'alice', 'after the images');
  expect(await loginTransactions()).toBe(0);
  // Each image reached the BFF and was refused there.
  expect(refusedStarts() - refusedBefore).toBe(31);
  // A real start from the demo's page still writes its one transaction.
  await page.goto('/auth/oidc/login?returnTo=/');
  await page.waitForURL((url) => url.pathname.startsWith('/idp/interaction/'), FLOW);
  expect(await loginTransactions()).toBe(1);
});

test('no returnTo payload of the open-redirect report leaves the demo’s origin after sign-in', async ({ newDevice }) => {
  test.setTimeout(120_000);
  const device = await newDevice();
  await (await signInAtIdp(device)).close();
  const demo = stack().demo.url;
  // Any request to another host (there is none to reach: evil.example does not resolve).
  const elsewhere: string[] = [];
  device.on('request', (r) => {
    if (!['localhost', '127.0.0.1'].includes(new URL(r.url()).hostname)) elsewhere.push(r.url());
  });
  const page = await device.newPage();
  const landing = async (returnTo: string) => {
    // Typed into the address bar: a sign-in start the BFF accepts; with the SSO session the IdP returns at once.
    // A navigation that fails (another host) shows as the page's URL below.
    await page.goto('about:blank');
    await page.goto(`${demo}/auth/oidc/login?returnTo=${encodeURIComponent(returnTo)}`, FLOW).catch(() => undefined);
    await page.waitForLoadState();
    return page.url();
  };

  // The control: a path with dot segments that stays on the site is followed there, through the IdP.
  expect(await landing('/x/../api/public')).toBe(`${demo}/api/public`);

  for (const payload of [
    '/.//evil.example/phish',
    '/..//evil.example/phish',
    '/%2e//evil.example/phish',
    '/%2E%2E//evil.example/phish',
    '/a/..//evil.example/phish',
    '/x/../..//evil.example/phish',
    '/..//',
    '/%2e//',
    '/%2E%2E//',
    '/a/..//',
    '/x/../..//',
  ]) {
    const url = await landing(payload);
    expect(new URL(url).origin, `returnTo=${payload} ended on ${url}`).toBe(demo);
    expect(elsewhere, `returnTo=${payload}`).toEqual([]);
  }
});
