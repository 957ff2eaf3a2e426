/**
 * A copied session cookie. The attacker copies the victim's cookie into another browser; the victim keeps using
 * the app (its silent refreshes rotate the cookie); then the attacker presents the copy. The BFF sees a superseded
 * credential: it revokes that device session, so the attacker gets 401 reuse_detected, the victim's access tokens
 * stop working at once, and the victim is signed out at its next refresh with the reason shown.
 *
 * The victim refreshes twice after the copy: one rotation alone would leave the copy inside the documented grace
 * window for a lost refresh answer (README: the just-superseded cookie, successor not yet used, gets that successor).
 */
import {
  TokenRecorder,
  callMeSucceeds,
  expectSignedIn,
  expectSignedOut,
  newSignedInPage,
  replayTokens,
  status,
  withoutLivePush,
} from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';
import { metricTotal, SESSION_COOKIE } from '@latchkey/testkit';

const stack = useStack({ accessTtlSeconds: 4 });

test('a copied cookie used after the victim refreshed signs out both the attacker and the victim', async ({ newDevice, request }) => {
  const ttlMs = stack().accessTtlSeconds * 1000;
  const victim = await newDevice();
  const attacker = await newDevice();
  const victimTokens = new TokenRecorder(victim);
  // No live push for the victim: this spec checks the path where it learns at its next refresh (live.spec: the push).
  await withoutLivePush(victim);
  const victimPage = await newSignedInPage(victim, 'alice', 'victim-laptop');
  await callMeSucceeds(victimPage);

  // The theft: every cookie of the victim's browser, copied as it is.
  const copied = await victim.cookies();
  expect(copied.map((c) => c.name)).toContain(SESSION_COOKIE);
  await attacker.addCookies(copied);

  // The victim goes on working; its client rotates the cookie twice.
  const rotatedAtCopy = victimTokens.rotatedCount();
  await expect.poll(() => victimTokens.rotatedCount(), { timeout: ttlMs * 3 + 5_000 }).toBeGreaterThanOrEqual(rotatedAtCopy + 2);
  await expectSignedIn(victimPage);
  await callMeSucceeds(victimPage);
  const theftsBefore = await metricTotal(stack().demo.url, 'latchkey_theft_detections_total');

  // The attacker opens the app with the copy: the page's start-up refresh presents it.
  const attackerPage = await attacker.newPage();
  const answer = attackerPage.waitForResponse((r) => new URL(r.url()).pathname === '/auth/refresh');
  await attackerPage.goto('/');
  const response = await answer;
  expect(response.status()).toBe(401);
  expect(((await response.json()) as { error: string }).error).toBe('reuse_detected');
  await expectSignedOut(attackerPage, 'reuse_detected');
  expect(await metricTotal(stack().demo.url, 'latchkey_theft_detections_total')).toBe(theftsBefore + 1);

  // The victim's access tokens stopped working at once, before the victim noticed anything.
  await victimTokens.settle();
  expect(await replayTokens(request, victimTokens.tokens)).toEqual([...victimTokens.tokens].map(() => 401));

  // The victim is signed out at its next silent refresh, and told why.
  await expectSignedOut(victimPage, 'reuse_detected', ttlMs + 5_000);
  await victimTokens.settle();
  expect(victimTokens.refreshes.at(-1)).toMatchObject({ status: 401, error: 'reuse_detected' });

  // Nobody holds a working cookie for that session any more: not the attacker, whose cookies the 401 cleared, nor the
  // copy itself, presented once more.
  expect((await attacker.cookies()).map((c) => c.name)).not.toContain(SESSION_COOKIE);
  await attacker.addCookies(copied);
  const again = await attacker.newPage();
  const second = again.waitForResponse((r) => new URL(r.url()).pathname === '/auth/refresh');
  await again.goto('/');
  expect((await second).status()).toBe(401);
  await expect(status(again)).toHaveText(/unauthenticated/i);
});
