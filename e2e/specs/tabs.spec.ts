/**
 * Several tabs of one device (pages of one browser context): one refresh for all of them, counted at the BFF
 * (`latchkey_refreshes_total` on /metrics, every outcome), and logout in one tab signs every tab out without a reload.
 *
 * The access-token lifetime is long here (120 s: a tab's own silent refresh comes 60 s after its token, later than
 * any test can last, even on a machine so loaded that opening four tabs takes many seconds), so that no scheduled
 * refresh falls inside a counting window; the expiry is reached by moving the tabs' clocks instead (Playwright's
 * clock, installed in the whole context). Every refresh request is recorded with the tab that sent it, for the
 * failure message.
 */
import type { BrowserContext, Page, Request } from '@playwright/test';
import { callMeSucceeds, expectSignedIn, expectSignedOut, isRefresh, login, newSignedInPage, openDemo, status } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';
import { countDelta, refreshCounts } from '@latchkey/testkit';

const stack = useStack({ accessTtlSeconds: 120 });
const TABS = 4;

/** Refresh requests as the browser sent them: which tab, and when (ms since the first one), for failure messages. */
const sentRefreshes: string[] = [];
let firstRefreshAt = 0;
/** Refresh requests sent and not answered yet. */
const unanswered = new Set<Request>();
function recordRefreshes(page: Page, name: string): void {
  page.on('request', (request) => {
    if (!isRefresh(request)) return;
    unanswered.add(request);
    firstRefreshAt ||= Date.now();
    sentRefreshes.push(`${name} +${Date.now() - firstRefreshAt} ms`);
  });
  page.on('requestfinished', (request) => unanswered.delete(request));
  page.on('requestfailed', (request) => unanswered.delete(request));
}
test.beforeEach(() => {
  sentRefreshes.length = 0;
  firstRefreshAt = 0;
  unanswered.clear();
});
const refreshesSent = () => `refreshes sent: ${sentRefreshes.join(', ') || 'none'}`;

async function openTabs(context: BrowserContext, n: number): Promise<Page[]> {
  const pages = await Promise.all(Array.from({ length: n }, () => context.newPage()));
  pages.forEach((page, i) => recordRefreshes(page, `new tab ${i + 1}`));
  await Promise.all(pages.map((p) => p.goto('/')));
  return pages;
}

/**
 * Before the count is read: every refresh a tab sent has its answer, so the BFF has counted it (an explicit signal,
 * not a sleep a busy machine can outlast). Called once every tab shows signed in (or has used its token): a tab
 * whose handover failed would refresh before it shows signed in, and a signed-in tab sends no refresh until its
 * scheduled one, far away (120 s lifetime).
 */
const settle = () => expect.poll(() => unanswered.size, { message: refreshesSent() }).toBe(0);

test(`${TABS} tabs opened at once on a device with only its cookie make one refresh`, async ({ newDevice }) => {
  const device = await newDevice();
  const first = await newSignedInPage(device, 'alice', 'tabs-cold');
  // No tab holds a token any more: only the cookie is left.
  await first.close();

  const before = await refreshCounts(stack().demo.url);
  const tabs = await openTabs(device, TABS);
  for (const tab of tabs) await expectSignedIn(tab);
  await settle();
  // A second rotation here means a starting tab asked the others for the token (BroadcastChannel), got no answer
  // within the client's handover wait, found the refresh lock free and refreshed once more.
  expect(countDelta(before, await refreshCounts(stack().demo.url)), refreshesSent()).toEqual({ rotated: 1, total: 1 });

  // Every tab has a working token, and using it costs no further refresh.
  for (const tab of tabs) await callMeSucceeds(tab);
  await settle();
  expect(countDelta(before, await refreshCounts(stack().demo.url)), refreshesSent()).toEqual({ rotated: 1, total: 1 });
});

test(`${TABS} tabs whose token has expired make one refresh between them`, async ({ newDevice }) => {
  const device = await newDevice();
  await device.clock.install();
  const first = await newSignedInPage(device, 'alice', 'tabs-expired');
  recordRefreshes(first, 'first tab');

  // More tabs of the signed-in device get the token from the first one, without a refresh of their own.
  const beforeOpen = await refreshCounts(stack().demo.url);
  const tabs = [first, ...(await openTabs(device, TABS - 1))];
  for (const tab of tabs) await expectSignedIn(tab);
  await settle();
  expect(countDelta(beforeOpen, await refreshCounts(stack().demo.url)), refreshesSent()).toEqual({ total: 0 });

  // Every tab's clock jumps past the token's expiry at once: their refresh timers fire together,
  // and every tab wants a token for an API call at the same moment.
  const before = await refreshCounts(stack().demo.url);
  await device.clock.fastForward(stack().accessTtlSeconds * 1000 + 5_000);
  await Promise.all(tabs.map((tab) => callMeSucceeds(tab)));
  for (const tab of tabs) await expectSignedIn(tab);
  await settle();
  expect(countDelta(before, await refreshCounts(stack().demo.url)), refreshesSent()).toEqual({ rotated: 1, total: 1 });
});

test('logout in one tab signs out every tab at once, without a reload; so does logout-all', async ({ newDevice }) => {
  const device = await newDevice();
  const first = await newSignedInPage(device, 'bob', 'tabs-logout');
  const tabs = [first, ...(await openTabs(device, 2))];
  for (const tab of tabs) await expectSignedIn(tab);
  // A marker that a reload or navigation would wipe out.
  for (const tab of tabs) await tab.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
  const navigations: string[] = [];
  for (const tab of tabs) tab.on('framenavigated', (frame) => frame === tab.mainFrame() && navigations.push(frame.url()));

  await tabs[1]!.getByTestId('logout').click();
  for (const tab of tabs) await expectSignedOut(tab, 'logout');

  // A login in one tab signs the others in too; logout-all in another tab signs them all out.
  await login(tabs[2]!, 'bob', 'tabs-logout');
  for (const tab of tabs) await expectSignedIn(tab);
  await callMeSucceeds(tabs[0]!, 'bob');
  await tabs[0]!.getByTestId('logout-all').click();
  for (const tab of tabs) await expectSignedOut(tab, 'logout_all');

  expect(navigations).toEqual([]);
  for (const tab of tabs) {
    expect(await tab.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
  }
  // And the device really is signed out: a new tab starts signed out.
  const fresh = await device.newPage();
  await openDemo(fresh);
  await expect(status(fresh)).toHaveText(/unauthenticated/i);
});
