/**
 * No token where script can read it: not in localStorage, sessionStorage, IndexedDB, Cache Storage nor a readable
 * cookie, after login and after silent refreshes. The session cookie is HttpOnly, Secure, SameSite=Strict and
 * __Host-, and its value appears nowhere script can read either.
 */
import type { Page } from '@playwright/test';
import { TokenRecorder, callMeSucceeds, newSignedInPage, readableBrowserState } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';
import { SESSION_COOKIE } from '@latchkey/testkit';

const stack = useStack({ accessTtlSeconds: 4 });
const JWT = /eyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]+/;

async function expectNothingReadable(page: Page, secrets: Iterable<string>): Promise<void> {
  const state = await readableBrowserState(page);
  expect(state).not.toMatch(JWT);
  for (const secret of secrets) {
    expect(secret.length).toBeGreaterThan(16);
    expect(state.includes(secret), `a secret is readable by script: ${state.slice(0, 500)}`).toBe(false);
  }
  // The one cookie script may read is the BFF's hint (`<session cookie>-hint=1`): no secret, only "a session may exist".
  const cookie = await page.evaluate(() => document.cookie);
  expect(cookie).toBe(`${SESSION_COOKIE}-hint=1`);
}

test('no token or cookie value is readable by script, after login and after refreshes', async ({ newDevice }) => {
  const device = await newDevice();
  const tokens = new TokenRecorder(device);
  const page = await newSignedInPage(device, 'alice', 'storage-check');
  const second = await device.newPage();
  await second.goto('/');
  await callMeSucceeds(page);
  await callMeSucceeds(second);

  const jar = await device.cookies();
  const session = jar.find((c) => c.name === SESSION_COOKIE);
  expect(session, JSON.stringify(jar.map((c) => c.name))).toBeDefined();
  expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
  await tokens.settle();
  expect(tokens.tokens.size).toBeGreaterThan(0);
  for (const p of [page, second]) await expectNothingReadable(p, [...tokens.tokens, session!.value]);

  // After silent refreshes: new tokens and a rotated cookie, still nowhere readable.
  const rotated = tokens.rotatedCount();
  await expect.poll(() => tokens.rotatedCount(), { timeout: stack().accessTtlSeconds * 2000 + 5_000 }).toBeGreaterThanOrEqual(rotated + 2);
  await callMeSucceeds(page);
  await tokens.settle();
  const rotatedCookie = (await device.cookies()).find((c) => c.name === SESSION_COOKIE);
  expect(rotatedCookie?.value).toBeDefined();
  expect(rotatedCookie!.value).not.toBe(session!.value);
  for (const p of [page, second]) await expectNothingReadable(p, [...tokens.tokens, session!.value, rotatedCookie!.value]);

  // A reload starts from the cookie alone: nothing was kept for it in storage.
  await page.reload();
  await callMeSucceeds(page);
  await tokens.settle();
  await expectNothingReadable(page, [...tokens.tokens]);
});
