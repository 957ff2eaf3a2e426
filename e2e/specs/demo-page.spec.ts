/**
 * The demo page as a first-time user meets it: words instead of protocol codes, which device signed out whom, how to
 * get a second device, which of two same-named devices is which, a phone-sized screen, and a clean console.
 */
import type { BrowserContext, ConsoleMessage, Page } from '@playwright/test';
import { RAW_CODE, expectSignedIn, expectSignedOut, isRefresh, login, newSignedInPage, openDemo, status } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

useStack({ accessTtlSeconds: 300 });
test.describe.configure({ timeout: 90_000 });

const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const CHROME_ON_MACOS = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

/** Every console error and uncaught exception of the page, from now on. */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error') errors.push(`${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return errors;
}

/** The page's visible text, without the lines that may legitimately name a code (none may). */
const visibleText = (page: Page) => page.locator('body').innerText();

test('an anonymous visit logs no console error and sends no refresh that can only fail', async ({ newDevice }) => {
  const device = await newDevice();
  const page = await device.newPage();
  const errors = consoleErrors(page);
  const refreshes: number[] = [];
  page.on('response', (r) => isRefresh(r) && refreshes.push(r.status()));
  await openDemo(page);
  await expect(status(page)).toHaveAttribute('data-status', 'unauthenticated');
  await expect(page.getByTestId('login-form')).toBeVisible();
  // Reload too: nothing left behind by the first visit may change that.
  await page.reload();
  await expect(status(page)).toHaveAttribute('data-status', 'unauthenticated');
  await page.waitForTimeout(500);
  expect(refreshes).toEqual([]);
  expect(errors).toEqual([]);

  // Signed in, a reload restores the session; signed out again, the next visit is anonymous and quiet again.
  await login(page, 'alice', 'console-check');
  await page.reload();
  await expectSignedIn(page);
  await page.getByTestId('logout').click();
  await expectSignedOut(page, 'logout', undefined, 'You signed out on this device.');
  await page.reload();
  await expect(status(page)).toHaveAttribute('data-status', 'unauthenticated');
  await page.waitForTimeout(500);
  expect(refreshes).toEqual([200]);
  expect(errors).toEqual([]);
});

test('logout-all: the device that clicked is told it signed out everywhere, the other device that it was signed out from another device', async ({
  newDevice,
}) => {
  const deviceA = await newDevice();
  const deviceB = await newDevice();
  const pageA = await newSignedInPage(deviceA, 'alice', 'words-laptop');
  // A second tab of device A: the same device, so it too was signed out "everywhere" by its own user.
  const tabA2 = await deviceA.newPage();
  await openDemo(tabA2);
  await expectSignedIn(tabA2);
  const pageB = await newSignedInPage(deviceB, 'alice', 'words-phone');
  // B's live stream is open once its device list has loaded this device.
  await expect(pageB.getByTestId('device-row')).not.toHaveCount(0);
  await expect(pageB.getByTestId('device-row').filter({ hasText: 'words-laptop' })).toHaveCount(1);

  await pageA.getByTestId('logout-all').click();
  await expectSignedOut(pageA, 'logout_all', undefined, 'You signed out everywhere.');
  await expectSignedOut(tabA2, 'logout_all', undefined, 'You signed out everywhere.');
  await expectSignedOut(pageB, 'logout_all', undefined, 'Signed out from another device.');
  // The event log speaks in words too, and agrees.
  await expect(pageB.getByTestId('event-entry').first()).toHaveText(/Signed out from another device\./);
  for (const page of [pageA, tabA2, pageB]) expect(await visibleText(page)).not.toMatch(RAW_CODE);
});

test('errors the page shows are sentences, never codes', async ({ newDevice }) => {
  const device = await newDevice();
  const page = await device.newPage();
  await openDemo(page);
  await page.getByTestId('login-username').fill('alice');
  await page.getByTestId('login-password').fill('not-her-password');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('login-error')).toHaveText('Wrong username or password.');

  await login(page, 'bob', 'words-bob');
  await page.getByTestId('call-admin').click();
  await expect(page.getByTestId('admin-result')).toHaveAttribute('data-state', 'error');
  await expect(page.getByTestId('admin-result')).toContainText('not allowed');
  await expect(page.getByTestId('admin-result')).not.toHaveText(RAW_CODE);
  expect(await visibleText(page)).not.toMatch(RAW_CODE);
});

test('the device list says how to get a second device, and tells same-named devices apart by their browser', async ({ browser, stack }) => {
  const contexts: BrowserContext[] = [];
  const device = async (userAgent?: string) => {
    const context = await browser.newContext({ baseURL: stack.demo.url, ...(userAgent ? { userAgent } : {}) });
    contexts.push(context);
    return context;
  };
  try {
    const pageA = await newSignedInPage(await device(FIREFOX_ON_WINDOWS), 'bob', 'Laptop');
    await newSignedInPage(await device(CHROME_ON_MACOS), 'bob', 'Laptop');
    await newSignedInPage(await device(), 'bob', 'Kitchen tablet');
    await expect(pageA.getByTestId('second-device-hint')).toBeVisible();
    await expect(pageA.getByTestId('second-device-hint')).toContainText(/another browser/i);

    const rows = pageA.getByTestId('device-list').getByTestId('device-row');
    const laptops = rows.filter({ has: pageA.getByTestId('device-name').getByText('Laptop', { exact: true }) });
    await expect(async () => {
      await pageA.getByTestId('devices-refresh').click();
      await expect(laptops).toHaveCount(2, { timeout: 2_000 });
      await expect(rows.filter({ hasText: 'Kitchen tablet' })).toHaveCount(1, { timeout: 2_000 });
    }).toPass({ timeout: 15_000 });
    await expect(laptops.filter({ has: pageA.getByTestId('device-current') }).getByTestId('device-agent')).toHaveText('Firefox 128 on Windows');
    await expect(laptops.filter({ hasNot: pageA.getByTestId('device-current') }).getByTestId('device-agent')).toHaveText('Chrome 126 on macOS');
    // A name of its own needs no more.
    await expect(rows.filter({ hasText: 'Kitchen tablet' }).getByTestId('device-agent')).toHaveCount(0);
  } finally {
    await Promise.allSettled(contexts.map((c) => c.close()));
  }
});

/** Nothing wider than the viewport: no horizontal scrolling, and each of `testIds` (every match) lies inside it. */
async function expectFitsWidth(page: Page, testIds: string[]): Promise<void> {
  const { scrollWidth, innerWidth, wide } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    // For the failure message: the elements that reach past the right edge.
    wide: [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
      .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`),
  }));
  expect(scrollWidth, `page is ${scrollWidth} px wide in a ${innerWidth} px viewport: ${wide.join(', ')}`).toBeLessThanOrEqual(innerWidth);
  for (const id of testIds) {
    const boxes = await page.getByTestId(id).evaluateAll((elements) => elements.map((e) => e.getBoundingClientRect().toJSON() as DOMRect));
    expect(boxes.length, `${id} is on the page`).toBeGreaterThan(0);
    for (const box of boxes) {
      expect(box.left, `${id} starts inside the viewport`).toBeGreaterThanOrEqual(0);
      expect(box.right, `${id} ends inside the viewport`).toBeLessThanOrEqual(innerWidth);
    }
  }
}

for (const width of [375, 360, 414]) {
  test(`at ${width} px wide nothing overflows sideways, signed out or signed in with a long device name`, async ({ browser, stack }) => {
    const context = await browser.newContext({ baseURL: stack.demo.url, viewport: { width, height: 740 } });
    try {
      const page = await context.newPage();
      await openDemo(page);
      await expectFitsWidth(page, ['status', 'login-form', 'login-submit', 'login-device']);

      // The longest name the form takes, in one unbreakable word: the worst a user can type.
      await login(page, 'alice', 'x'.repeat(40) + '-' + 'y'.repeat(59));
      for (const id of ['call-me', 'call-admin', 'call-public']) await page.getByTestId(id).click();
      await expect(page.getByTestId('me-result')).toHaveAttribute('data-state', 'ok');
      await expect(page.getByTestId('admin-result')).toBeVisible();
      await expect(page.getByTestId('public-result')).toBeVisible();
      await expect(page.getByTestId('device-row')).not.toHaveCount(0);
      await expectFitsWidth(page, [
        'status',
        'user-name',
        'session-device',
        'session-id',
        'logout',
        'logout-all',
        'call-me',
        'call-admin',
        'call-public',
        'me-result',
        'admin-result',
        'device-row',
        'device-name',
        'devices-refresh',
        'second-device-hint',
        'event-entry',
      ]);

      await page.getByTestId('logout-all').click();
      await expectSignedOut(page, 'logout_all');
      await expectFitsWidth(page, ['status', 'signout-reason', 'login-form']);
    } finally {
      await context.close();
    }
  });
}
