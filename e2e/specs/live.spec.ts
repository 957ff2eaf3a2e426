/**
 * Push sign-out and the live device list (`GET /auth/events`, `@latchkey/client/live`) on two demo processes that
 * share one Redis: device A (a browser context) talks to process A, device B to process B. The access token lives
 * five minutes here, so no page refreshes on its own during a test: a device B that signs out without anyone
 * touching it was told by the push, and the specs check that B sent nothing (no refresh, no API call) meanwhile.
 */
import type { Browser, BrowserContext, Page, Response } from '@playwright/test';
import { callMeSucceeds, expectSignedIn, expectSignedOut, newSignedInPage, openDemo, recordStatusTexts } from '../support/demo-page.js';
import { HttpDevice, SESSION_COOKIE } from '@latchkey/testkit';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ accessTtlSeconds: 300 });
// Two demo processes, several pages each: on a busy two-core machine a scenario takes a while. Conditions are awaited,
// never timed; this only bounds how long a stuck run may take.
test.describe.configure({ timeout: 120_000 });
let demoB: Awaited<ReturnType<ReturnType<typeof stack>['addDemo']>>;
const contexts: BrowserContext[] = [];

test.beforeAll(async () => {
  demoB = await stack().addDemo();
});
test.afterEach(async () => {
  await Promise.allSettled(contexts.splice(0).map((c) => c.close()));
});

const isEvents = (r: Response) => new URL(r.url()).pathname === '/auth/events';

/** A device on demo process B. */
async function deviceOnB(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: demoB.url });
  contexts.push(context);
  return context;
}

/** Resolves when the device's event stream is open (the BFF answered 200); bounded by the test's timeout. */
const streamOpened = (context: BrowserContext) => context.waitForEvent('response', { predicate: (r) => isEvents(r) && r.status() === 200, timeout: 0 });

/**
 * Every contact from now on through which the device could learn of a sign-out without the push: a refresh or an
 * API call. (Reloading the device list, which a `devices_changed` push triggers, is not counted.)
 */
function contactsFrom(context: BrowserContext): string[] {
  const seen: string[] = [];
  context.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    // /api/config only tells the signed-out page whether to offer the IdP button: it carries no token.
    if (path === '/auth/refresh' || (path.startsWith('/api/') && path !== '/api/config')) seen.push(`${request.method()} ${path}`);
  });
  return seen;
}

/** Signs a device in on two tabs (the second gets the token from the first) and waits for its stream. */
async function twoTabs(context: BrowserContext, deviceName: string): Promise<[Page, Page]> {
  const opened = streamOpened(context);
  const first = await newSignedInPage(context, 'alice', deviceName);
  const second = await context.newPage();
  await openDemo(second);
  await expectSignedIn(second);
  await opened;
  return [first, second];
}

test('logout-all on device A signs out every open tab of device B at once, without any click', async ({ browser, newDevice }) => {
  const deviceA = await newDevice();
  const pageA = await newSignedInPage(deviceA, 'alice', 'laptop-all');
  const deviceB = await deviceOnB(browser);
  const tabsB = await twoTabs(deviceB, 'phone-all');
  await callMeSucceeds(tabsB[0]);
  const contacts = contactsFrom(deviceB);

  await pageA.getByTestId('logout-all').click();
  await expectSignedOut(pageA, 'logout_all');
  for (const tab of tabsB) await expectSignedOut(tab, 'logout_all');
  expect(contacts).toEqual([]);
});

test('revoking device B from device A’s list signs out every tab of B at once', async ({ browser, newDevice }) => {
  const deviceA = await newDevice();
  const pageA = await newSignedInPage(deviceA, 'alice', 'laptop-revoke');
  const deviceB = await deviceOnB(browser);
  const tabsB = await twoTabs(deviceB, 'phone-revoke');
  const contacts = contactsFrom(deviceB);

  const row = pageA.getByTestId('device-row').filter({ hasText: 'phone-revoke' });
  await expect(row).toHaveCount(1);
  await row.getByTestId('revoke-device').click();
  for (const tab of tabsB) await expectSignedOut(tab, 'session_revoked');
  expect(contacts).toEqual([]);
  await expectSignedIn(pageA);
});

test('theft: a copy of B’s cookie replayed out of turn ends the session, and every tab of B signs out as reuse_detected', async ({ browser }) => {
  const deviceB = await deviceOnB(browser);
  const tabsB = await twoTabs(deviceB, 'phone-theft');
  const contacts = contactsFrom(deviceB);
  const stolen = (await deviceB.cookies(demoB.url)).find((c) => c.name === SESSION_COOKIE)!.value;

  // The thief, on process A: uses the copy twice (its successor is then in use), then the copy again.
  const thief = new HttpDevice(stack().demo.url);
  thief.cookie = stolen;
  expect((await thief.refresh()).status).toBe(200);
  expect((await thief.refresh()).status).toBe(200);
  thief.cookie = stolen;
  const replay = await thief.refresh();
  expect(replay.status).toBe(401);
  expect(await replay.json()).toMatchObject({ error: 'reuse_detected' });

  for (const tab of tabsB) await expectSignedOut(tab, 'reuse_detected');
  expect(contacts).toEqual([]);
});

test('the device list on A updates by itself when B signs in and when B signs out', async ({ browser, newDevice }) => {
  const deviceA = await newDevice();
  const openedA = streamOpened(deviceA);
  const pageA = await newSignedInPage(deviceA, 'alice', 'laptop-list');
  await openedA;
  const rowOfB = pageA.getByTestId('device-row').filter({ hasText: 'phone-list' });
  await expect(rowOfB).toHaveCount(0);

  const deviceB = await deviceOnB(browser);
  const pageB = await newSignedInPage(deviceB, 'alice', 'phone-list');
  await expect(rowOfB).toHaveCount(1);

  await pageB.getByTestId('logout').click();
  await expectSignedOut(pageB, 'logout');
  await expect(rowOfB).toHaveCount(0);
  await expect(pageA.getByTestId('device-row').filter({ hasText: 'laptop-list' })).toHaveCount(1);
});

test('closing the tab that holds the stream hands it to another tab, which still gets the push', async ({ browser, newDevice }) => {
  const deviceA = await newDevice();
  const pageA = await newSignedInPage(deviceA, 'alice', 'laptop-handover');
  const deviceB = await deviceOnB(browser);
  const holders: Page[] = [];
  deviceB.on('request', (r) => {
    if (new URL(r.url()).pathname === '/auth/events') holders.push(r.frame().page());
  });
  const tabsB = await twoTabs(deviceB, 'phone-handover');
  expect(holders).toHaveLength(1);
  const holder = holders[0]!;
  const other = tabsB.find((t) => t !== holder)!;

  const takenOver = streamOpened(deviceB);
  await holder.close();
  await takenOver;
  expect(holders.at(-1)).toBe(other);

  await pageA.getByTestId('logout-all').click();
  await expectSignedOut(other, 'logout_all');
});

test('the store paused: a stream that reconnects meanwhile is refused (503) and retried, nobody is signed out, and pushes work after', async ({
  browser,
  newDevice,
}) => {
  const deviceA = await newDevice();
  const pageA = await newSignedInPage(deviceA, 'alice', 'laptop-paused');
  const deviceB = await deviceOnB(browser);
  const holders: Page[] = [];
  deviceB.on('request', (r) => {
    if (new URL(r.url()).pathname === '/auth/events') holders.push(r.frame().page());
  });
  const tabsB = await twoTabs(deviceB, 'phone-paused');
  const other = tabsB.find((t) => t !== holders[0])!;
  const statusesB = await recordStatusTexts(other);
  const statusesA = await recordStatusTexts(pageA);

  stack().redis.pause();
  let resumed = false;
  try {
    // The holder goes away while the store is paused: the other tab takes over, and its stream is refused.
    const refused = deviceB.waitForEvent('response', { predicate: (r) => isEvents(r) && r.status() === 503, timeout: 0 });
    await holders[0]!.close();
    await refused;
    await expect(other.getByTestId('unreachable-banner')).toBeVisible({ timeout: 15_000 });
    await expectSignedIn(other);
    await expectSignedIn(pageA);

    const reconnected = streamOpened(deviceB);
    stack().redis.resume();
    resumed = true;
    await reconnected;
  } finally {
    if (!resumed) stack().redis.resume();
  }
  await expect(other.getByTestId('unreachable-banner')).toBeHidden({ timeout: 30_000 });
  expect(await statusesB()).not.toContainEqual(expect.stringMatching(/unauthenticated/i));
  expect(await statusesA()).not.toContainEqual(expect.stringMatching(/unauthenticated/i));

  await pageA.getByTestId('logout-all').click();
  await expectSignedOut(other, 'logout_all');
});
