/**
 * Proxy mode with the bundled development IdP (LATCHKEY_DEMO_PROXY=true, LATCHKEY_DEMO_IDP=true; docs/proxy.md,
 * "IdP tokens"): after sign-in at the IdP, the page calls /api/idp-profile through `bff.proxy({ token: 'idp' })`; the
 * upstream API accepts only the IdP's own access token (it introspects it at the IdP), which the BFF attaches. The page
 * never sees a JWT (every fetch/XHR body and header, EventSource message, storage and readable cookie is watched), nor
 * the IdP token. A password session gets a clear refusal from the same API and stays signed in.
 */
import type { BrowserContext, Page } from '@playwright/test';
import { callMeSucceeds, expectSignedIn, login, openDemo, readableBrowserState, status } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';
import { watchForJwts } from '../support/jwt-watch.js';

useStack({ idp: true, env: { LATCHKEY_DEMO_PROXY: 'true' } });

/** The flow crosses two servers and several redirects: on a loaded machine that takes longer than one action. */
const FLOW = { timeout: 45_000 };

async function signInAtIdp(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await openDemo(page);
  await expect(status(page)).toHaveText(/unauthenticated/i);
  await page.getByTestId('idp-sign-in').click();
  await page.waitForURL((url) => url.pathname.startsWith('/idp/interaction/'), FLOW);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('wonderland');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === '/', FLOW);
  await expectSignedIn(page, FLOW.timeout);
  return page;
}

test("after IdP sign-in the page reaches an API that takes the IdP's access token, and never sees a token", async ({ newDevice }) => {
  test.setTimeout(120_000);
  const device = await newDevice();
  const sightings = await watchForJwts(device);
  const page = await signInAtIdp(device);
  // Every answer the page's requests got, as the browser received it.
  const answers: string[] = [];
  page.on('response', (response) => {
    void response
      .text()
      .then((text) => answers.push(`${response.url()} ${JSON.stringify(response.headers())} ${text}`))
      .catch(() => undefined);
  });

  const idpCall = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/idp-profile', FLOW);
  await page.getByTestId('call-idp-api').click();
  expect((await idpCall).status()).toBe(200);
  const result = page.getByTestId('idp-api-result');
  await expect(result).toHaveAttribute('data-state', 'ok');
  // The upstream's own view of the token, from the IdP's introspection: alice, issued to the BFF's client.
  await expect(result).toContainText('"via": "idp-token"');
  await expect(result).toContainText('"sub": "user-alice"');
  await expect(result).toContainText('"client": "latchkey-demo"');
  // The Latchkey-token API works beside it.
  await callMeSucceeds(page);
  await page.getByTestId('call-idp-api').click();
  await expect(result).toHaveAttribute('data-state', 'ok');

  expect(sightings).toEqual([]);
  expect(answers.join('\n')).not.toContain('eyJ');
  expect(answers.join('\n')).not.toMatch(/access_token|refresh_token|"token"/);
  expect(await readableBrowserState(page)).not.toContain('eyJ');
});

test('a password session is refused by the IdP-token API (403, not signed out)', async ({ newDevice }) => {
  const device = await newDevice();
  const page = await device.newPage();
  await openDemo(page);
  await login(page, 'alice', 'proxy-idp-password');
  const idpCall = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/idp-profile');
  await page.getByTestId('call-idp-api').click();
  const answer = await idpCall;
  expect(answer.status()).toBe(403);
  expect(await answer.json()).toEqual({ error: 'insufficient_scope', message: expect.stringMatching(/identity provider/) });
  await expect(page.getByTestId('idp-api-result')).toHaveAttribute('data-state', 'error');
  await expectSignedIn(page);
  await callMeSucceeds(page);
});
