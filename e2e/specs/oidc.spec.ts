/**
 * Sign-in through an identity provider in real Chromium: the demo runs the bundled development IdP (node-oidc-provider,
 * LATCHKEY_DEMO_IDP=true) and the page's "Sign in with the identity provider" button takes the full redirect flow.
 * Two devices (browser contexts) sign in; a back-channel logout sent by the IdP then signs both out at their next call.
 * Two demo processes on one Redis: the sign-in starts on one and the IdP's callback lands on the other.
 */
import type { BrowserContext, Page } from '@playwright/test';
import { callMeSucceeds, expectSignedIn, expectSignedOut, freezeTime, openDemo, status, withoutLivePush } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ idp: true });

const pathOf = (url: string) => new URL(url).pathname;
/** The flow crosses two servers and several redirects: on a loaded machine that takes longer than one action. */
const FLOW = { timeout: 45_000 };

/** On the demo page (signed out): the IdP button, the IdP's login form, and back, signed in. */
async function signInAtIdp(context: BrowserContext, username = 'alice', password = 'wonderland'): Promise<Page> {
  const page = await context.newPage();
  await openDemo(page);
  await expect(status(page)).toHaveText(/unauthenticated/i);
  await page.getByTestId('idp-sign-in').click();
  await page.waitForURL((url) => url.pathname.startsWith('/idp/interaction/'), FLOW);
  await expect(page.getByRole('heading', { name: 'Development identity provider' })).toBeVisible();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/', FLOW);
  await expectSignedIn(page, FLOW.timeout);
  return page;
}

test('full redirect flow on two devices; a back-channel logout from the IdP signs both out at their next call', async ({ newDevice, request }) => {
  test.setTimeout(120_000);
  const deviceA = await newDevice();
  const deviceB = await newDevice();
  // Clocks installed before the pages load, so they can be stopped below: then a device contacts the BFF only when
  // the user acts, and "at their next call" is the click, not a silent refresh.
  await deviceA.clock.install();
  await deviceB.clock.install();
  // No live push: this test checks that the devices learn it at their next call (live.spec.ts covers the push).
  await withoutLivePush(deviceA);
  await withoutLivePush(deviceB);
  const pageA = await signInAtIdp(deviceA);
  const pageB = await signInAtIdp(deviceB);
  await callMeSucceeds(pageA);
  await callMeSucceeds(pageB);
  await expect(pageA.getByText('Alice Liddell').first()).toBeVisible();

  // The browser holds the Latchkey cookie and the IdP's own cookies, never an IdP token.
  for (const device of [deviceA, deviceB]) {
    const names = (await device.cookies()).map((c) => c.name);
    expect(names).toContain('__Host-latchkey');
    expect(names).not.toContain('__Host-latchkey-oidc');
    const storage = await pageA.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
    expect(storage).not.toMatch(/eyJ/);
  }

  await freezeTime(deviceA);
  await freezeTime(deviceB);
  // The IdP signs alice out everywhere: it POSTs a signed logout token (sub only) to the BFF's back-channel endpoint.
  const sent = await request.post(`${stack().demo.url}/idp/dev/sign-out-everywhere`, { form: { username: 'alice' } });
  expect(sent.status()).toBe(204);

  for (const page of [pageA, pageB]) {
    await page.getByTestId('call-me').click();
    await expectSignedOut(page, 'session_revoked');
  }
});

test('two demo processes on one Redis: the login starts on one and the callback lands on the other', async ({ browser }) => {
  test.setTimeout(120_000);
  const first = stack().demo;
  const second = await stack().addDemo();
  const device = await browser.newContext({ baseURL: second.url });
  try {
    const loginStarted = device.waitForEvent('request', { predicate: (r) => r.url().startsWith(`${second.url}/auth/oidc/login`), ...FLOW });
    const callbackAnswered = device.waitForEvent('response', { predicate: (r) => r.url().startsWith(`${first.url}/auth/oidc/callback`), ...FLOW });
    const page = await signInAtIdp(device);
    await loginStarted;
    expect((await callbackAnswered).status()).toBe(303);
    expect(new URL(page.url()).origin).toBe(second.url);
    await callMeSucceeds(page);
    const refreshes = page.waitForResponse((r) => pathOf(r.url()) === '/auth/refresh');
    await page.reload();
    expect((await refreshes).status()).toBe(200);
    await expectSignedIn(page);
  } finally {
    await device.close();
  }
});

test('logout of an IdP session signs out at the IdP too (RP-initiated logout) and comes back signed out', async ({ newDevice }) => {
  test.setTimeout(120_000);
  const device = await newDevice();
  const page = await signInAtIdp(device, 'bob', 'builder');
  // What the page is given: read on its way through, passed on unchanged.
  const logoutBodies: string[] = [];
  await page.route('**/auth/logout', async (route) => {
    const response = await route.fetch();
    logoutBodies.push(await response.text());
    await route.fulfill({ response });
  });
  const viaBff = page.waitForResponse((res) => new URL(res.url()).pathname === '/auth/oidc/logout');
  await page.getByTestId('logout').click();
  // Only the BFF's route; that route's 303 carries the ID token hint to the IdP.
  expect((await viaBff).status()).toBe(303);
  expect(new URL((await viaBff).headers().location!).searchParams.get('id_token_hint')).toMatch(/^eyJ/);
  expect(logoutBodies.map((body) => JSON.parse(body) as unknown)).toEqual([{ redirectTo: new URL('/auth/oidc/logout', page.url()).href }]);
  // The IdP's end-session page asks to confirm, then returns to the demo.
  await page.waitForURL((url) => url.pathname.startsWith('/idp/session/end'), FLOW);
  await page
    .getByRole('button', { name: /yes|sign.?out|log.?out/i })
    .first()
    .click();
  await page.waitForURL((url) => url.pathname === '/', FLOW);
  await expect(status(page)).toHaveText(/unauthenticated/i, FLOW);
  // Signed out at the IdP as well: the next sign-in asks for the password again.
  await page.getByTestId('idp-sign-in').click();
  await page.waitForURL((url) => url.pathname.startsWith('/idp/interaction/'), FLOW);
});

test('the device name typed on the page reaches the IdP sign-in; a cancel at the IdP comes back as a sentence', async ({ newDevice }) => {
  test.setTimeout(90_000);
  const device = await newDevice();
  const page = await device.newPage();
  await openDemo(page);
  await page.getByTestId('login-device').fill('Kitchen tablet');
  // Cancelled at the IdP: back on the page (303 to returnTo with ?auth_error), told so in words, not in JSON.
  await page.getByTestId('idp-sign-in').click();
  await page.waitForURL((url) => url.pathname.startsWith('/idp/interaction/'), FLOW);
  await page.getByRole('link', { name: 'Cancel' }).click();
  await page.waitForURL((url) => url.pathname === '/', FLOW);
  await expect(page.getByTestId('auth-error')).toHaveText('Sign-in with the identity provider was cancelled. You are not signed in.');
  await expect(status(page)).toHaveText(/unauthenticated/i);
  // Said once: the code is taken out of the address bar.
  expect(new URL(page.url()).searchParams.has('auth_error')).toBe(false);

  await page.getByTestId('login-device').fill('Kitchen tablet');
  await page.getByTestId('idp-sign-in').click();
  await page.waitForURL((url) => url.pathname.startsWith('/idp/interaction/'), FLOW);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('wonderland');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/', FLOW);
  await expectSignedIn(page, FLOW.timeout);
  await expect(page.getByTestId('session-device')).toHaveText('Kitchen tablet');
});
