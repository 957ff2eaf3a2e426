/**
 * The operators' console (`/admin-console`, @latchkey/admin-console) on the demo, in real Chromium against real Redis:
 * alice holds the admin router's scopes, bob does not. The access token lives five minutes here, so no page refreshes
 * on its own during a test: a demo page that signs out without anyone touching it was told by the push, and a token
 * that stops working was revoked, not expired.
 */
import { mkdirSync } from 'node:fs';
import type { BrowserContext, Page, Response } from '@playwright/test';
import { ACCOUNTS, TokenRecorder, expectSignedIn, expectSignedOut, newSignedInPage, replayTokens, type AccountName } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ accessTtlSeconds: 300 });
test.describe.configure({ timeout: 90_000 });

const SCREENSHOTS = 'test-results/admin-console';
const pathOf = (url: string) => new URL(url).pathname;
const isEvents = (r: Response) => pathOf(r.url()) === '/auth/events';

/** Resolves when the context's event stream is open (the BFF answered 200). */
const streamOpened = (context: BrowserContext) => context.waitForEvent('response', { predicate: (r) => isEvents(r) && r.status() === 200, timeout: 0 });

/** A demo page of `account` on a new device, its push stream open. */
async function demoDevice(
  newDevice: () => Promise<BrowserContext>,
  account: AccountName,
  deviceName: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newDevice();
  const opened = streamOpened(context);
  const page = await newSignedInPage(context, account, deviceName);
  await opened;
  return { context, page };
}

/**
 * Every contact through which a device could learn of a sign-out without the push: a refresh or an API call.
 */
function contactsFrom(context: BrowserContext): string[] {
  const seen: string[] = [];
  context.on('request', (request) => {
    const path = pathOf(request.url());
    if (path === '/auth/refresh' || (path.startsWith('/api/') && path !== '/api/config')) seen.push(`${request.method()} ${path}`);
  });
  return seen;
}

/** Opens the console on its own device and signs in through its form. */
async function openConsole(newDevice: () => Promise<BrowserContext>, account: AccountName): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newDevice();
  const page = await context.newPage();
  await page.goto('/admin-console');
  await expect(page).toHaveURL(/\/admin-console\/$/);
  await page.getByTestId('console-username').fill(ACCOUNTS[account].username);
  await page.getByTestId('console-password').fill(ACCOUNTS[account].password);
  await page.getByTestId('console-login-submit').click();
  return { context, page };
}

async function findUser(page: Page, userId: string): Promise<void> {
  await page.getByTestId('user-query').fill(userId);
  await page.getByTestId('user-find').click();
  await expect(page.getByTestId('user-result')).toContainText(`for ${userId}`);
}

/** The page is no wider than the viewport: nothing scrolls sideways. */
async function expectNoHorizontalScroll(page: Page): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  expect(scrollWidth, `scrollWidth ${scrollWidth} > innerWidth ${innerWidth}`).toBeLessThanOrEqual(innerWidth);
}

test("an admin revokes one of bob's devices: that demo page signs out by push, the other stays, and the feed shows who did what", async ({ newDevice }) => {
  const laptop = await demoDevice(newDevice, 'bob', 'bob-laptop');
  const phone = await demoDevice(newDevice, 'bob', 'bob-phone');
  const laptopContacts = contactsFrom(laptop.context);
  const { page: console } = await openConsole(newDevice, 'alice');
  await expect(console.getByTestId('users-card')).toBeVisible();

  await findUser(console, 'user-bob');
  const rows = console.getByTestId('session-row');
  await expect(rows).toHaveCount(2);
  const laptopRow = rows.filter({ hasText: 'bob-laptop' });
  await expect(laptopRow.getByTestId('session-tenant')).toHaveText('builders');
  await expect(laptopRow.getByTestId('session-agent')).toContainText('Chrome');
  await expect(laptopRow.getByTestId('session-idp')).toHaveText('none (password sign-in)');

  await laptopRow.getByTestId('session-revoke').click();
  await expect(console.getByTestId('user-action-result')).toHaveText(/Ended the device session “bob-laptop” of user-bob/);
  await expect(console.getByTestId('user-action-result')).toHaveAttribute('data-ok', 'true');
  await expect(rows).toHaveCount(1);
  await expect(rows).toContainText('bob-phone');

  await expectSignedOut(laptop.page, 'session_revoked');
  expect(laptopContacts).toEqual([]);
  await expectSignedIn(phone.page);

  // The live feed: the admin action (who, what, whom) and the revocation it caused, from the shared log.
  const feed = console.getByTestId('feed-entry');
  await expect(feed.filter({ hasText: 'ended a device session of' })).toContainText(/user-alice ended a device session of user-bob/);
  await expect(feed.and(console.locator('[data-kind="session_ended"]')).first()).toContainText('user-bob');
  // And in the audit log, with the actor.
  await expect.poll(() => stack().demo.output()).toMatch(/"event":"admin_audit","action":"end_session","actor":\{"sub":"user-alice"/);

  mkdirSync(SCREENSHOTS, { recursive: true });
  await console.screenshot({ path: `${SCREENSHOTS}/console-desktop.png`, fullPage: true });
});

test('a tenant revoke signs every open page of the tenant out by push and leaves the admin signed in', async ({ newDevice }) => {
  const bob = await demoDevice(newDevice, 'bob', 'bob-tenant');
  const contacts = contactsFrom(bob.context);
  const { page: console } = await openConsole(newDevice, 'alice');

  await console.getByTestId('tenant-name').fill('builders');
  await console.getByTestId('tenant-revoke').click();
  // Nothing happens before the confirmation.
  await expect(console.getByTestId('tenant-confirm')).toContainText('Sign every user of the tenant builders out of every device?');
  await console.getByTestId('tenant-revoke-yes').click();
  await expect(console.getByTestId('tenant-result')).toHaveText(/^Revoked the tenant builders: [1-9]\d* device sessions? ended/);

  await expectSignedOut(bob.page, 'session_revoked');
  expect(contacts).toEqual([]);
  // alice has no tenant: her console keeps working.
  await findUser(console, 'user-bob');
  await expect(console.getByTestId('session-row')).toHaveCount(0);
  await expect(console.getByTestId('feed-entry').filter({ hasText: 'Tenant revoked' }).first()).toContainText('builders');
});

test("one access token by its jti, then every session of a user: each refused at once, bob's page signed out by push", async ({ newDevice, request }) => {
  const bob = await demoDevice(newDevice, 'bob', 'bob-revoke-all');
  const contacts = contactsFrom(bob.context);
  // Another token of bob's (an API client's, say), named by its jti.
  const other = await request.post('/auth/login', { headers: { 'X-CSRF': '1' }, data: { username: 'bob', password: 'builder', deviceName: 'bob-cli' } });
  const token = ((await other.json()) as { accessToken: string }).accessToken;
  const { jti } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string };
  expect(await replayTokens(request, [token])).toEqual([200]);

  const { page: console } = await openConsole(newDevice, 'alice');
  await console.getByTestId('token-input').fill(jti);
  await console.getByTestId('token-revoke').click();
  await expect(console.getByTestId('token-result')).toHaveText('Revoked: the token is refused everywhere until it would have expired.');
  await expect.poll(() => replayTokens(request, [token])).toEqual([401]);
  await expectSignedIn(bob.page);

  await findUser(console, 'user-bob');
  await console.getByTestId('revoke-all').click();
  await expect(console.getByTestId('revoke-all-confirm')).toContainText('Sign user-bob out of every device');
  await console.getByTestId('revoke-all-yes').click();
  await expect(console.getByTestId('user-action-result')).toHaveText(
    /^Revoked user-bob: [2-9]\d* device sessions ended, and every token issued before now is refused\.$/,
  );
  await expect(console.getByTestId('session-row')).toHaveCount(0);
  // Revoking a user ends their sessions as a logout-all does, and the push says so.
  await expectSignedOut(bob.page, 'logout_all');
  expect(contacts).toEqual([]);
  await expect(console.getByTestId('feed-entry').filter({ hasText: 'User revoked' }).first()).toContainText('user-bob');
});

test('emergency rotation needs the typed confirmation, then every outstanding token is refused and the console carries on', async ({ newDevice, request }) => {
  const bob = await demoDevice(newDevice, 'bob', 'bob-rotation');
  const bobTokens = new TokenRecorder(bob.context, true);
  const { context: adminDevice, page: console } = await openConsole(newDevice, 'alice');
  const adminTokens = new TokenRecorder(adminDevice);
  await expect(console.getByTestId('key-row')).not.toHaveCount(0);
  const kidsBefore = await console.getByTestId('key-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-kid')));
  // bob's demo page holds a token (it called nothing yet): take it from its login answer.
  await bob.page.reload();
  await expectSignedIn(bob.page);
  await bobTokens.settle();
  // The console sends its token with every admin call (the feed polls).
  await expect.poll(() => adminTokens.tokens.size).toBeGreaterThan(0);
  const outstanding = [...bobTokens.tokens, ...adminTokens.tokens];
  expect(bobTokens.tokens.size).toBeGreaterThan(0);
  expect(adminTokens.tokens.size).toBeGreaterThan(0);
  expect(await replayTokens(request, outstanding)).toEqual(outstanding.map(() => 200));

  await console.getByTestId('key-emergency').click();
  const run = console.getByTestId('emergency-run');
  await expect(run).toBeDisabled();
  await console.getByTestId('emergency-phrase').fill('emergency');
  await expect(run).toBeDisabled();
  await console.getByTestId('emergency-phrase').press('Enter');
  await console.getByTestId('emergency-phrase').fill('Emergency Rotate');
  await expect(run).toBeDisabled();
  // Nothing ran so far.
  expect(await replayTokens(request, outstanding)).toEqual(outstanding.map(() => 200));

  await console.getByTestId('emergency-phrase').fill('emergency rotate');
  await expect(run).toBeEnabled();
  await run.click();
  await expect(console.getByTestId('keys-result')).toContainText(
    'Emergency rotation done: every earlier key is gone and every outstanding access token is refused.',
  );
  // The list reloads after the rotation (the console's own token is refused first, and refreshed): wait for the new ring.
  const keyRows = () => console.getByTestId('key-row').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-kid'), r.getAttribute('data-state')]));
  await expect.poll(async () => (await keyRows()).some(([kid]) => kidsBefore.includes(kid ?? null)), { timeout: 10_000 }).toBe(false);
  const rows = await keyRows();
  expect(rows).toHaveLength(1);
  expect(rows[0]![1]).toBe('active');

  await expect.poll(() => replayTokens(request, outstanding)).toEqual(outstanding.map(() => 401));
  // The console's own token was refused too; it refreshed (the session lives on) and reads with a new one.
  await console.getByTestId('keys-reload').click();
  await findUser(console, 'user-bob');
  await expect(console.getByTestId('feed-entry').filter({ hasText: 'ran an emergency key rotation' })).toHaveCount(1);
});

test('bob (no admin scope) gets a refusal page and never any data', async ({ newDevice, request }) => {
  const adminCalls: string[] = [];
  const context = await newDevice();
  context.on('request', (r) => {
    if (pathOf(r.url()).startsWith('/admin/')) adminCalls.push(`${r.method()} ${pathOf(r.url())}`);
  });
  const page = await context.newPage();
  await page.goto('/admin-console/');
  await page.getByTestId('console-username').fill('bob');
  await page.getByTestId('console-password').fill('builder');
  const refused = page.waitForResponse((r) => pathOf(r.url()) === '/admin/operator');
  await page.getByTestId('console-login-submit').click();
  expect((await refused).status()).toBe(403);

  await expect(page.getByTestId('console-refused')).toContainText('You are signed in as Bob the Builder, but this account may not use the operators');
  await expect(page.getByTestId('console-refused')).toContainText('(insufficient_scope)');
  for (const card of ['users-card', 'feed-card', 'keys-card', 'tenant-card', 'token-card']) await expect(page.getByTestId(card)).toHaveCount(0);
  expect(adminCalls).toEqual(['GET /admin/operator']);

  // The same security headers as the demo page.
  const [consoleHeaders, pageHeaders] = await Promise.all([request.get('/admin-console/'), request.get('/')]);
  expect(consoleHeaders.headers()['content-security-policy']).toBeTruthy();
  expect(consoleHeaders.headers()['content-security-policy']).toBe(pageHeaders.headers()['content-security-policy']);
});

test('an XSS probe in a device name is shown as text', async ({ newDevice }) => {
  const probe = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;
  const bob = await newDevice();
  const login = await bob.request.post('/auth/login', { headers: { 'X-CSRF': '1' }, data: { username: 'bob', password: 'builder', deviceName: probe } });
  expect(login.status()).toBe(200);

  const { page: console } = await openConsole(newDevice, 'alice');
  const dialogs: string[] = [];
  console.on('dialog', (d) => void d.dismiss().then(() => dialogs.push(d.message())));
  await findUser(console, 'user-bob');
  const device = console.getByTestId('session-device').filter({ hasText: 'onerror' });
  await expect(device).toHaveText(probe);
  await expect(console.getByTestId('users-card').locator('img, script')).toHaveCount(0);
  expect(await console.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
  expect(dialogs).toEqual([]);
});

test('at 375 px nothing scrolls sideways: sign-in, the console with long ids and the emergency confirmation, the refusal page', async ({ browser, stack }) => {
  const small = await browser.newContext({ baseURL: stack.demo.url, viewport: { width: 375, height: 812 } });
  try {
    const bobDevice = await browser.newContext({ baseURL: stack.demo.url });
    await bobDevice.request.post('/auth/login', {
      headers: { 'X-CSRF': '1', 'User-Agent': `Mozilla/5.0 ${'VeryLongUserAgentTokenWithoutSpaces'.repeat(6)}` },
      data: { username: 'bob', password: 'builder', deviceName: 'W'.repeat(100) },
    });
    await bobDevice.close();

    const page = await small.newPage();
    await page.goto('/admin-console/');
    await expect(page.getByTestId('console-login-form')).toBeVisible();
    await expectNoHorizontalScroll(page);
    await page.getByTestId('console-username').fill('alice');
    await page.getByTestId('console-password').fill('wonderland');
    await page.getByTestId('console-login-submit').click();
    await findUser(page, 'user-bob');
    await expect(page.getByTestId('session-device').filter({ hasText: 'WWWW' })).toBeVisible();
    await expectNoHorizontalScroll(page);
    await page.getByTestId('key-emergency').click();
    await expect(page.getByTestId('emergency-confirm')).toBeVisible();
    await expect(page.getByTestId('feed-entry').first()).toBeVisible();
    await expectNoHorizontalScroll(page);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: `${SCREENSHOTS}/console-375.png`, fullPage: true });

    await page.getByTestId('console-logout').click();
    await page.getByTestId('console-username').fill('bob');
    await page.getByTestId('console-password').fill('builder');
    await page.getByTestId('console-login-submit').click();
    await expect(page.getByTestId('console-refused')).toBeVisible();
    await expectNoHorizontalScroll(page);
  } finally {
    await small.close();
  }
});
