/**
 * Restarts in Redis mode. Sessions, signing keys and revocations live in Redis, so a new BFF process with the same
 * secret (and even a restarted redis-server, append-only file on) keeps every device signed in: existing tokens are
 * still accepted, the next silent refresh works, and a reload signs in from the cookie.
 */
import type { Page } from '@playwright/test';
import {
  AUTHENTICATED,
  TokenRecorder,
  callMeSucceeds,
  expectSignedIn,
  newSignedInPage,
  recordStatusTexts,
  replayTokens,
  type AccountName,
} from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ accessTtlSeconds: 5, persistent: true });

async function expectStillWorking(page: Page, tokens: TokenRecorder, account: AccountName): Promise<void> {
  // Back to normal: no banner, a working API call, and a successful silent refresh on the new process.
  await expectSignedIn(page);
  await expect(page.getByTestId('unreachable-banner')).toBeHidden({ timeout: 30_000 });
  await callMeSucceeds(page, account);
  const ok = tokens.rotatedCount();
  await expect.poll(() => tokens.rotatedCount(), { timeout: stack().accessTtlSeconds * 1000 + 10_000 }).toBeGreaterThan(ok);
  await callMeSucceeds(page, account);
}

test('a BFF restart keeps every device signed in', async ({ newDevice, request }) => {
  test.setTimeout(90_000);
  const [deviceA, deviceB] = [await newDevice(), await newDevice()];
  const tokensA = new TokenRecorder(deviceA);
  const tokensB = new TokenRecorder(deviceB);
  const pageA = await newSignedInPage(deviceA, 'alice', 'restart-a');
  const pageB = await newSignedInPage(deviceB, 'bob', 'restart-b');
  const statusA = await recordStatusTexts(pageA);
  const statusB = await recordStatusTexts(pageB);
  await tokensA.settle();
  const tokenBeforeRestart = [...tokensA.tokens].at(-1)!;

  await stack().demo.restart();
  // A token issued by the old process is accepted by the new one (shared key ring), if it has not expired yet.
  const [replayed] = await replayTokens(request, [tokenBeforeRestart]);
  expect([200, 401]).toContain(replayed);

  await expectStillWorking(pageA, tokensA, 'alice');
  await expectStillWorking(pageB, tokensB, 'bob');
  for (const texts of [await statusA(), await statusB()]) {
    for (const text of texts) expect(text, JSON.stringify(texts)).toMatch(AUTHENTICATED);
  }
  // A reload signs in again from the cookie the old process set.
  await pageA.reload();
  await expectSignedIn(pageA);
  await callMeSucceeds(pageA);
  // No refresh ended a session: every refresh answer was 200, or a 5xx / network error while the process was down.
  for (const r of [...tokensA.refreshes, ...tokensB.refreshes]) expect(r.status === 200 || r.status >= 500, JSON.stringify(r)).toBe(true);
});

test('a restart of the BFF and of redis-server (append-only file) keeps every device signed in', async ({ newDevice }) => {
  test.setTimeout(90_000);
  const device = await newDevice();
  const tokens = new TokenRecorder(device);
  const page = await newSignedInPage(device, 'alice', 'restart-all');
  const texts = await recordStatusTexts(page);

  await stack().demo.stop();
  await stack().redis.restart();
  await stack().demo.start();

  await expectStillWorking(page, tokens, 'alice');
  for (const text of await texts()) expect(text).toMatch(AUTHENTICATED);
  await page.reload();
  await expectSignedIn(page);
  await callMeSucceeds(page);
  for (const r of tokens.refreshes) expect(r.status === 200 || r.status >= 500, JSON.stringify(r)).toBe(true);
});
