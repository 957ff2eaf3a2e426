/**
 * The BFF unreachable for a while signs nobody out: only a definitive 401 from the BFF ends a session. The page
 * shows the unreachable banner, keeps the user, and the banner goes away by itself once the BFF answers again.
 * Three kinds of outage: the server process gone (connection refused), the network to it failing in one browser
 * only, and the store behind it gone (the BFF answers 503).
 */
import type { BrowserContext, Page, Route } from '@playwright/test';
import {
  AUTHENTICATED,
  TokenRecorder,
  callMeOnce,
  callMeSucceeds,
  expectSignedIn,
  newSignedInPage,
  recordStatusTexts,
  type AccountName,
} from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ accessTtlSeconds: 4, persistent: true });
const banner = (page: Page) => page.getByTestId('unreachable-banner');

/**
 * The outage lasts until the banner is up and the access token has expired (the page holds only a dead token),
 * then `end` ends it; the banner must then go away without any user action (backoff and jitter: generous timeout).
 */
async function outage(page: Page, context: BrowserContext, account: AccountName, begin: () => Promise<void>, end: () => Promise<void>): Promise<void> {
  const ttlMs = stack().accessTtlSeconds * 1000;
  const texts = await recordStatusTexts(page);
  const tokens = new TokenRecorder(context, true);
  await expect(banner(page)).toBeHidden();

  await begin();
  const started = Date.now();
  await expect(banner(page)).toBeVisible({ timeout: ttlMs + 10_000 });
  await expectSignedIn(page);
  // A user action during the outage fails, and still signs nobody out.
  await page.getByTestId('call-me').click();
  const rest = ttlMs + 1_000 - (Date.now() - started);
  if (rest > 0) await page.waitForTimeout(rest);
  await expectSignedIn(page);
  await expect(banner(page)).toBeVisible();
  await expect(page.getByTestId('signout-reason')).toBeHidden();

  await end();
  await expect(banner(page)).toBeHidden({ timeout: 40_000 });
  await expectSignedIn(page);
  // The API may take a moment longer than the BFF (after a store outage its guard fails closed until its
  // revocation view has caught up); a user retrying gets through shortly.
  await expect.poll(() => callMeOnce(page), { timeout: 15_000, intervals: [500] }).toBe('ok');
  await callMeSucceeds(page, account);
  const seen = await texts();
  for (const text of seen) expect(text, JSON.stringify(seen)).toMatch(AUTHENTICATED);
  for (const r of tokens.refreshes) expect(r.status === 200 || r.status >= 500, JSON.stringify(r)).toBe(true);
}

test('the BFF process stopped for a while signs nobody out; the banner shows and goes away', async ({ newDevice }) => {
  test.setTimeout(90_000);
  const device = await newDevice();
  const page = await newSignedInPage(device, 'alice', 'outage-process');
  await outage(
    page,
    device,
    'alice',
    () => stack().demo.stop(),
    () => stack().demo.start(),
  );
});

test('the network to the BFF and the API failing in the browser signs nobody out', async ({ newDevice }) => {
  test.setTimeout(90_000);
  const device = await newDevice();
  const page = await newSignedInPage(device, 'bob', 'outage-network');
  const cut = (route: Route) => route.abort('internetdisconnected');
  await outage(
    page,
    device,
    'bob',
    async () => {
      await device.route('**/auth/**', cut);
      await device.route('**/api/**', cut);
    },
    async () => {
      await device.unroute('**/auth/**', cut);
      await device.unroute('**/api/**', cut);
    },
  );
});

test('the store behind the BFF gone (the BFF answers 503) signs nobody out', async ({ newDevice }) => {
  test.setTimeout(90_000);
  const device = await newDevice();
  const page = await newSignedInPage(device, 'alice', 'outage-store');
  const answers: number[] = [];
  device.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    if (path === '/auth/refresh' || path === '/api/me') answers.push(r.status());
  });
  await outage(
    page,
    device,
    'alice',
    () => stack().redis.terminate(),
    () => stack().redis.restart(),
  );
  // The BFF answered (with 503s) rather than dropping the connections.
  expect(
    answers.some((s) => s === 503),
    JSON.stringify(answers),
  ).toBe(true);
});
