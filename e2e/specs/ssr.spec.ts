/**
 * The server-rendered page of the demo (`GET /ssr`, examples/demo/src/ssr): Express renders it with React's
 * renderToPipeableStream from `bff.getSession(req)` (read-only) and server-side data fetched with
 * `bff.getAccessToken(req)`; the browser hydrates it through `<SessionProvider initialSession>`.
 *
 * Counted at the BFF's /metrics (`latchkey_refreshes_total` by outcome, `latchkey_theft_detections_total`), so a
 * rotation caused by rendering, hidden or not, shows up. The access-token lifetime is long (120 s) so that no
 * scheduled silent refresh of a page falls inside a counting window.
 */
import type { BrowserContext, Page } from '@playwright/test';
import { countDelta, metricTotal, refreshCounts } from '@latchkey/testkit';
import { ACCOUNTS, expectSignedOut, isRefresh, newSignedInPage } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ accessTtlSeconds: 120 });
const GREETING = `Hello, <!-- -->${ACCOUNTS.alice.name}`;

/** A device signed in as alice through the demo page (then closed: only the cookie is left), and its /ssr page, hydrated. */
async function signedInSsrPage(device: BrowserContext, deviceName: string): Promise<Page> {
  await (await newSignedInPage(device, 'alice', deviceName)).close();
  const page = await device.newPage();
  const response = await page.goto('/ssr');
  expect(response?.status()).toBe(200);
  await expectHydrated(page);
  return page;
}

const expectHydrated = (page: Page) => expect(page.getByTestId('ssr-page')).toHaveAttribute('data-hydrated', 'true');
const thefts = () => metricTotal(stack().demo.url, 'latchkey_theft_detections_total');

test('the first HTML of the protected page already greets the user; the browser fetches its token on its first API call', async ({ newDevice }) => {
  const device = await newDevice();
  await (await newSignedInPage(device, 'alice', 'ssr-first-html')).close();
  const page = await device.newPage();
  const refreshes: string[] = [];
  page.on('request', (request) => void (isRefresh(request) && refreshes.push(request.url())));

  const response = (await page.goto('/ssr'))!;
  expect(response.status()).toBe(200);
  // The response body as the server sent it, not the hydrated DOM.
  const html = await response.text();
  expect(html).toContain(GREETING);
  expect(html).toContain(`data-testid="ssr-status">authenticated<`);
  // Server-side data fetching with the session's own access token (bff.getAccessToken).
  expect(html).toContain(`data-testid="ssr-server-data">${ACCOUNTS.alice.name}<`);
  // Rendering never rotates the cookie, so it never sets one.
  expect(await response.headerValue('set-cookie')).toBeNull();
  expect(response.headers()['cache-control']).toBe('private, no-store');

  await expectHydrated(page);
  await expect(page.getByTestId('ssr-status')).toHaveText('authenticated');
  expect(refreshes, 'a hydrated page with an initial session sends no request').toEqual([]);
  await page.getByTestId('ssr-call-api').click();
  await expect(page.getByTestId('ssr-browser-data')).toHaveText(ACCOUNTS.alice.name);
  expect(refreshes, 'the first API call fetches the token: one refresh').toHaveLength(1);
});

test('a signed-out visit is redirected by the server, before any HTML', async ({ newDevice }) => {
  const device = await newDevice();
  const page = await device.newPage();
  const response = await page.request.get('/ssr', { maxRedirects: 0 });
  expect(response.status()).toBe(303);
  expect(response.headers().location).toBe('/');
  await page.goto('/ssr');
  expect(new URL(page.url()).pathname).toBe('/');
  await expectSignedOut(page);
});

test('20 reloads of the server-rendered page: 0 refreshes and 0 theft detections', async ({ newDevice }) => {
  const device = await newDevice();
  const page = await signedInSsrPage(device, 'ssr-reloads');
  const before = await refreshCounts(stack().demo.url);
  const theftsBefore = await thefts();
  for (let i = 0; i < 20; i++) {
    const response = (await page.reload())!;
    expect(response.status()).toBe(200);
    expect(await response.text()).toContain(GREETING);
    await expectHydrated(page);
  }
  expect(countDelta(before, await refreshCounts(stack().demo.url))).toEqual({ total: 0 });
  expect(await thefts()).toBe(theftsBefore);
});

test('server renders and client refreshes interleaved across rotations in two tabs: no false theft', async ({ newDevice }) => {
  const device = await newDevice();
  const ssr = await signedInSsrPage(device, 'ssr-two-tabs');
  const other = await device.newPage();
  await other.goto('/');
  const before = await refreshCounts(stack().demo.url);
  const theftsBefore = await thefts();
  for (let i = 0; i < 5; i++) {
    // The other tab rotates the cookie while this one renders with whichever cookie the browser sends.
    const [rendered, refreshed] = await Promise.all([
      ssr.reload(),
      other.evaluate(
        async () => (await fetch('/auth/refresh', { method: 'POST', headers: { 'X-CSRF': '1', 'Content-Type': 'application/json' }, body: '{}' })).status,
      ),
    ]);
    expect(refreshed).toBe(200);
    expect(rendered?.status()).toBe(200);
    expect(await rendered!.text()).toContain(GREETING);
  }
  // And the page's own client refreshes on top of that.
  await expectHydrated(ssr);
  await ssr.getByTestId('ssr-call-api').click();
  await expect(ssr.getByTestId('ssr-browser-data')).toHaveText(ACCOUNTS.alice.name);
  expect((await ssr.reload())?.status()).toBe(200);
  const delta = countDelta(before, await refreshCounts(stack().demo.url));
  expect(delta.reuse_detected ?? 0).toBe(0);
  expect(delta.rotated).toBeGreaterThanOrEqual(5);
  expect(await thefts()).toBe(theftsBefore);
});

test('logout-all on another device: the next server render of this device is signed out (same process, then another)', async ({ newDevice }) => {
  const laptop = await newDevice();
  const page = await signedInSsrPage(laptop, 'ssr-laptop');
  const phone = await newDevice();
  const phonePage = await newSignedInPage(phone, 'alice', 'ssr-phone');
  await phonePage.getByTestId('logout-all').click();
  await expectSignedOut(phonePage);
  const next = await laptop.request.get('/ssr', { maxRedirects: 0 });
  expect(next.status()).toBe(303);
  await page.reload();
  expect(new URL(page.url()).pathname).toBe('/');

  // Signed out on a second process of the deployment: this process learns it from the revocation log.
  const second = await stack().addDemo();
  const again = await signedInSsrPage(laptop, 'ssr-laptop-2');
  const origin = second.url;
  const cookies = (await laptop.cookies(origin)).map((c) => `${c.name}=${c.value}`).join('; ');
  const ended = await fetch(`${origin}/auth/logout-all`, { method: 'POST', headers: { 'X-CSRF': '1', Origin: origin, Cookie: cookies } });
  expect(ended.status).toBe(204);
  await expect.poll(async () => (await laptop.request.get('/ssr', { maxRedirects: 0 })).status(), { timeout: 5_000 }).toBe(303);
  await again.reload();
  expect(new URL(again.url()).pathname).toBe('/');
});
