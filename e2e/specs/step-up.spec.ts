/**
 * Step-up (RFC 9470) in Chromium: the demo's /api/admin wants an authentication at most 2 s old here. Once alice's
 * sign-in is older, an admin call answers 401 insufficient_user_authentication; the axios adapter does not refresh-and-
 * retry it, the client emits `reauthentication_required`, the page asks for the password, re-authenticates
 * (`POST /auth/reauthenticate`) and retries the call, which succeeds. The device session is the same one throughout.
 */
import { expect, test, useStack } from '../support/fixtures.js';
import { newSignedInPage } from '../support/demo-page.js';

useStack({ accessTtlSeconds: 300, env: { LATCHKEY_DEMO_ADMIN_MAX_AUTH_AGE: '2' } });

const pathOf = (url: string) => new URL(url).pathname;

test('an admin call answers insufficient_user_authentication, the page re-authenticates with the password, the call succeeds, the session id is unchanged', async ({
  newDevice,
}) => {
  const device = await newDevice();
  const page = await newSignedInPage(device, 'alice', 'step-up-laptop');
  const sessionId = await page.getByTestId('session-id').textContent();
  expect(sessionId).toBeTruthy();
  const refreshes: number[] = [];
  page.on('response', (r) => {
    if (pathOf(r.url()) === '/auth/refresh') refreshes.push(r.status());
  });

  // Fresh from the sign-in: the admin call goes through.
  await page.getByTestId('call-admin').click();
  await expect(page.getByTestId('admin-result')).toHaveAttribute('data-state', 'ok');

  // Older than 2 s: refused with the RFC 9470 challenge, and no refresh is spent on it.
  await page.waitForTimeout(3_000);
  const refusal = page.waitForResponse((r) => pathOf(r.url()) === '/api/admin' && r.status() === 401);
  await page.getByTestId('call-admin').click();
  const refused = await refusal;
  expect(await refused.json()).toMatchObject({ error: 'insufficient_user_authentication' });
  expect(await refused.headerValue('www-authenticate')).toMatch(/error="insufficient_user_authentication".*max_age=2/);
  await expect(page.getByTestId('reauth-password')).toBeVisible();
  expect(refreshes).toEqual([]);

  // The password again: the same device session, re-stamped; the page retries the call, which succeeds.
  const reauthenticated = page.waitForResponse((r) => pathOf(r.url()) === '/auth/reauthenticate');
  const retried = page.waitForResponse((r) => pathOf(r.url()) === '/api/admin' && r.status() === 200);
  await page.getByTestId('reauth-password').fill('wonderland');
  await page.getByTestId('reauth-submit').click();
  const answer = await reauthenticated;
  expect(answer.status()).toBe(200);
  expect(((await answer.json()) as { session: { id: string } }).session.id).toBe(sessionId);
  await retried;
  await expect(page.getByTestId('admin-result')).toHaveAttribute('data-state', 'ok');
  await expect(page.getByTestId('reauth-password')).toBeHidden();
  await expect(page.getByTestId('session-id')).toHaveText(sessionId!);
  await expect(page.getByTestId('status')).toHaveAttribute('data-status', 'authenticated');
});

test('a wrong password keeps the prompt open with an error, and changes nothing', async ({ newDevice }) => {
  const device = await newDevice();
  const page = await newSignedInPage(device, 'alice', 'step-up-wrong');
  await page.waitForTimeout(3_000);
  await page.getByTestId('call-admin').click();
  await expect(page.getByTestId('reauth-password')).toBeVisible();
  const refused = page.waitForResponse((r) => pathOf(r.url()) === '/auth/reauthenticate');
  await page.getByTestId('reauth-password').fill('not-the-password');
  await page.getByTestId('reauth-submit').click();
  expect((await refused).status()).toBe(401);
  await expect(page.getByTestId('reauth-error')).toBeVisible();
  await expect(page.getByTestId('reauth-password')).toBeVisible();
  await expect(page.getByTestId('status')).toHaveAttribute('data-status', 'authenticated');
});
