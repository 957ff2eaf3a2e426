/**
 * Idle timeout from real activity (ASVS 7.3.1), in Chromium against the demo with a short idle timeout
 * (LATCHKEY_IDLE_TIMEOUT) and a short token lifetime, so the page's own refresh timer fires many times within it.
 * Real time on both sides: the BFF decides on its own clock from the idle time the page reports with each refresh.
 * An open tab whose timer keeps refreshing is signed out; a tab whose user presses a key now and then stays signed in.
 */
import type { Page } from '@playwright/test';
import { callMeSucceeds, expectSignedIn, expectSignedOut, isRefresh, newSignedInPage, status } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const IDLE_SECONDS = 12;
const stack = useStack({ accessTtlSeconds: 3, env: { LATCHKEY_IDLE_TIMEOUT: String(IDLE_SECONDS) } });

/** The idle time (s) each refresh of the page reported, and its answer's status. */
function recordRefreshes(page: Page): Array<{ idleSeconds: number | undefined; status: number }> {
  const seen: Array<{ idleSeconds: number | undefined; status: number }> = [];
  page.on('response', (response) => {
    if (!isRefresh(response)) return;
    const body = response.request().postData();
    seen.push({ idleSeconds: body ? (JSON.parse(body) as { idleSeconds?: number }).idleSeconds : undefined, status: response.status() });
  });
  return seen;
}

test('an idle tab whose timer keeps refreshing is signed out after the idle timeout; the session is gone', async ({ newDevice }) => {
  test.setTimeout(90_000);
  const device = await newDevice();
  // The page's last real use lies between these two: it loads (the client counts that as activity), and the sign-in
  // (the BFF stamps activity at the login). The client's clock of activity may thus start up to the sign-in's duration
  // before the BFF's, never after it.
  const loadingAt = Date.now();
  const page = await newSignedInPage(device, 'alice', 'idle-tab');
  const signedInAt = Date.now();
  const refreshes = recordRefreshes(page);

  // Nobody touches the page: its own timer refreshes every few seconds, each time reporting a longer idle time.
  await expectSignedOut(page, 'session_expired', (IDLE_SECONDS + stack().accessTtlSeconds * 3) * 1000);
  // Never before the idle timeout has passed since the last real use.
  expect(Date.now() - loadingAt).toBeGreaterThanOrEqual(IDLE_SECONDS * 1000);
  const reported = refreshes.map((r) => r.idleSeconds);
  expect(refreshes.length, JSON.stringify(refreshes)).toBeGreaterThanOrEqual(3);
  // Growing: the client's own refreshes are no activity. None was accepted past the timeout (as the BFF counts it, from
  // its login stamp: the page may report up to the sign-in's duration more); the session ended when the reported idle
  // time reached it (a refused refresh, or the BFF's push of the ended session, whichever came first).
  expect(reported).toEqual([...reported].sort((a, b) => a! - b!));
  const signInSeconds = (signedInAt - loadingAt) / 1000;
  const accepted = refreshes.filter((r) => r.status === 200);
  expect(
    accepted.every((r) => r.idleSeconds! <= IDLE_SECONDS + signInSeconds),
    JSON.stringify({ accepted, signInSeconds }),
  ).toBe(true);
  expect(Math.max(...reported.map(Number))).toBeGreaterThanOrEqual(IDLE_SECONDS - stack().accessTtlSeconds);

  // The device session really ended at the BFF: a new tab of the device starts signed out.
  const fresh = await device.newPage();
  await fresh.goto('/');
  await expect(status(fresh)).toHaveText(/unauthenticated/i);
});

test('a tab in use (a key pressed now and then, no API call) stays signed in well past the idle timeout', async ({ newDevice }) => {
  test.setTimeout(90_000);
  const device = await newDevice();
  const page = await newSignedInPage(device, 'bob', 'busy-tab');
  const refreshes = recordRefreshes(page);
  const until = Date.now() + IDLE_SECONDS * 2.5 * 1000;
  while (Date.now() < until) {
    await page.waitForTimeout(2_000);
    // Input in the page is the user's activity, whatever element has the focus.
    await page.locator('body').press('Shift');
    await expectSignedIn(page);
  }
  expect(refreshes.length, JSON.stringify(refreshes)).toBeGreaterThanOrEqual(3);
  expect(refreshes.every((r) => r.status === 200 && r.idleSeconds! < IDLE_SECONDS)).toBe(true);
  await callMeSucceeds(page, 'bob');
});
