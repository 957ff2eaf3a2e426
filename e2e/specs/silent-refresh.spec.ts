/**
 * Silent refresh: with a short access-token lifetime, a signed-in page keeps working across several lifetimes
 * without ever showing a sign-out, and really is on newer tokens (the first one has expired meanwhile).
 */
import { AUTHENTICATED, TokenRecorder, callMeSucceeds, newSignedInPage, recordStatusTexts, replayTokens } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ accessTtlSeconds: 4 });

test('a page stays signed in and working across four token lifetimes', async ({ newDevice, request }) => {
  const ttlMs = stack().accessTtlSeconds * 1000;
  test.setTimeout(ttlMs * 4 + 30_000);
  const device = await newDevice();
  const tokens = new TokenRecorder(device);
  const page = await newSignedInPage(device, 'alice', 'long-session');
  await tokens.settle();
  const [firstToken] = [...tokens.tokens];
  expect(firstToken).toBeDefined();
  const statusTexts = await recordStatusTexts(page);

  const until = Date.now() + ttlMs * 4;
  while (Date.now() < until) {
    await callMeSucceeds(page);
    await expect(page.getByTestId('status')).toHaveText(AUTHENTICATED);
    await page.waitForTimeout(ttlMs / 3);
  }
  await callMeSucceeds(page);

  // Never a visible sign-out, nor even a flash of "loading" or an unreachable banner.
  const seen = await statusTexts();
  expect(seen.length, `status texts seen: ${JSON.stringify(seen)}`).toBeGreaterThan(0);
  for (const text of seen) expect(text, `status texts seen: ${JSON.stringify(seen)}`).toMatch(AUTHENTICATED);
  await expect(page.getByTestId('signout-reason')).toBeHidden();
  await expect(page.getByTestId('unreachable-banner')).toBeHidden();

  // At least one silent refresh per lifetime, every one answered 200, and the page moved on to newer tokens.
  await tokens.settle();
  expect(
    tokens.refreshes.every((r) => r.status === 200),
    JSON.stringify(tokens.refreshes),
  ).toBe(true);
  expect(tokens.rotatedCount()).toBeGreaterThanOrEqual(4);
  expect(tokens.tokens.size).toBeGreaterThanOrEqual(4);
  expect(await replayTokens(request, [firstToken!])).toEqual([401]);
});
