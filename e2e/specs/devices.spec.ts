/**
 * Several devices of one user: each device is its own browser context (own cookie jar), so its own device session.
 * - logout on one device leaves the others working;
 * - logout-all signs every other device out at its next contact, and none of their tokens works any more;
 * - revoking a device from another device's list signs that device out;
 * - "sign out my other devices" on one device signs the others out at once (pushed), and leaves it signed in.
 */
import {
  TokenRecorder,
  callMeSucceeds,
  expectSignedIn,
  expectSignedOut,
  freezeTime,
  login,
  newSignedInPage,
  replayTokens,
  withoutLivePush,
} from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack();

test('logout on device A leaves device B signed in and working', async ({ newDevice, request }) => {
  const deviceA = await newDevice();
  const deviceB = await newDevice();
  const tokensA = new TokenRecorder(deviceA);
  const tokensB = new TokenRecorder(deviceB);
  const pageA = await newSignedInPage(deviceA, 'alice', 'laptop-1');
  const pageB = await newSignedInPage(deviceB, 'alice', 'phone-1');
  await callMeSucceeds(pageA);
  await callMeSucceeds(pageB);

  await pageA.getByTestId('logout').click();
  await expectSignedOut(pageA, 'logout');

  // A's own tokens stop working at once; B is untouched, now and across its next silent refresh.
  await tokensA.settle();
  expect(tokensA.tokens.size).toBeGreaterThan(0);
  expect(await replayTokens(request, tokensA.tokens)).toEqual([...tokensA.tokens].map(() => 401));
  await callMeSucceeds(pageB);
  const refreshedBefore = tokensB.rotatedCount();
  await expect.poll(() => tokensB.rotatedCount(), { timeout: stack().accessTtlSeconds * 1000 + 5_000 }).toBeGreaterThan(refreshedBefore);
  await expectSignedIn(pageB);
  await callMeSucceeds(pageB);
  expect(
    tokensB.refreshes.every((r) => r.status === 200),
    JSON.stringify(tokensB.refreshes),
  ).toBe(true);
});

test('logout-all on A signs B out at its next API call, C at its next refresh, and no token of theirs works', async ({ newDevice, request }) => {
  const [deviceA, deviceB, deviceC, deviceBob] = [await newDevice(), await newDevice(), await newDevice(), await newDevice()];
  const tokensB = new TokenRecorder(deviceB);
  const tokensC = new TokenRecorder(deviceC);
  // B and C have no live push (EventSource): this is the path where they learn it at their next contact.
  await withoutLivePush(deviceB);
  await withoutLivePush(deviceC);
  await deviceB.clock.install();
  const pageA = await newSignedInPage(deviceA, 'alice', 'laptop-2');
  const pageB = await newSignedInPage(deviceB, 'alice', 'phone-2');
  const pageC = await newSignedInPage(deviceC, 'alice', 'tablet-2');
  const pageBob = await newSignedInPage(deviceBob, 'bob', 'bobs-laptop');
  await callMeSucceeds(pageB);
  await callMeSucceeds(pageC);
  // B's clock stands still from here: B makes no refresh of its own, so its next contact is the API call below.
  await freezeTime(deviceB);

  await pageA.getByTestId('logout-all').click();
  await expectSignedOut(pageA, 'logout_all');

  // Every token B and C ever held is refused by the resource API right away, before either device hears of it.
  await tokensB.settle();
  await tokensC.settle();
  const stolen = new Set([...tokensB.tokens, ...tokensC.tokens]);
  expect(tokensB.tokens.size).toBeGreaterThan(0);
  expect(tokensC.tokens.size).toBeGreaterThan(0);
  expect(await replayTokens(request, stolen)).toEqual([...stolen].map(() => 401));

  // B learns it at its next API call: the 401 makes the client ask the BFF, which says the session is over.
  await expectSignedIn(pageB);
  await pageB.getByTestId('call-me').click();
  await expectSignedOut(pageB, 'session_revoked');
  // C is left alone and learns it at its next silent refresh.
  await expectSignedOut(pageC, 'session_revoked', stack().accessTtlSeconds * 1000 + 5_000);

  // Nothing B or C received afterwards works either (they must not have been handed a new token).
  await tokensB.settle();
  await tokensC.settle();
  const all = new Set([...tokensB.tokens, ...tokensC.tokens]);
  expect(await replayTokens(request, all)).toEqual([...all].map(() => 401));

  // Another user is untouched, and alice can sign in again at once (same second as the logout-all included).
  await callMeSucceeds(pageBob, 'bob');
  await login(pageA, 'alice', 'laptop-2');
  await callMeSucceeds(pageA);
});

test("revoking device B from device A's list signs B out", async ({ newDevice, request }) => {
  const deviceA = await newDevice();
  const deviceB = await newDevice();
  const tokensB = new TokenRecorder(deviceB);
  // B has no live push (EventSource): this is the path where it learns it at its next API call.
  await withoutLivePush(deviceB);
  await deviceB.clock.install();
  const pageA = await newSignedInPage(deviceA, 'bob', 'desk-3');
  const pageB = await newSignedInPage(deviceB, 'bob', 'phone-3');
  await callMeSucceeds(pageB, 'bob');
  // B's clock stands still: B makes no refresh of its own, so its next contact is the API call below.
  await freezeTime(deviceB);

  // A's list shows both devices, A's own marked current. (It loaded before B signed in: reload the list.)
  const list = pageA.getByTestId('device-list');
  await expect(async () => {
    await pageA.getByTestId('devices-refresh').click();
    await expect(list.getByTestId('device-row').filter({ hasText: 'phone-3' })).toHaveCount(1, { timeout: 2_000 });
  }).toPass({ timeout: 15_000 });
  const rowB = list.getByTestId('device-row').filter({ hasText: 'phone-3' });
  const rowA = list.getByTestId('device-row').filter({ hasText: 'desk-3' });
  await expect(rowA.getByTestId('device-current')).toBeVisible();
  await expect(rowB.getByTestId('device-current')).toHaveCount(0);

  await rowB.getByTestId('revoke-device').click();
  await expect(rowB).toHaveCount(0);
  await expectSignedIn(pageA);

  // B's tokens stop working at once; B is signed out at its next API call.
  await tokensB.settle();
  expect(await replayTokens(request, tokensB.tokens)).toEqual([...tokensB.tokens].map(() => 401));
  await expectSignedIn(pageB);
  await pageB.getByTestId('call-me').click();
  await expectSignedOut(pageB, 'session_revoked');

  // A is unaffected.
  await callMeSucceeds(pageA, 'bob');
});

test('logout-others on A signs B and C out at once (pushed), none of their tokens works, and A stays signed in', async ({ newDevice, request }) => {
  const [deviceA, deviceB, deviceC] = [await newDevice(), await newDevice(), await newDevice()];
  const tokensB = new TokenRecorder(deviceB);
  const tokensC = new TokenRecorder(deviceC);
  const pageA = await newSignedInPage(deviceA, 'alice', 'laptop-others');
  const pageB = await newSignedInPage(deviceB, 'alice', 'phone-others');
  const pageC = await newSignedInPage(deviceC, 'alice', 'tablet-others');
  for (const page of [pageA, pageB, pageC]) await callMeSucceeds(page);
  const sessionA = await pageA.getByTestId('session-id').textContent();

  await pageA.getByTestId('logout-others').click();

  // B and C hear it from the BFF's push, without touching the API: their sessions were revoked from another device.
  await expectSignedOut(pageB, 'session_revoked');
  await expectSignedOut(pageC, 'session_revoked');
  await tokensB.settle();
  await tokensC.settle();
  const ended = new Set([...tokensB.tokens, ...tokensC.tokens]);
  expect(await replayTokens(request, ended)).toEqual([...ended].map(() => 401));

  // A is untouched: same session, its token and the next ones work, and its device list is just itself.
  await expectSignedIn(pageA);
  await expect(pageA.getByTestId('session-id')).toHaveText(sessionA!);
  await callMeSucceeds(pageA);
  await expect(pageA.getByTestId('device-row')).toHaveCount(1);
  await expect(pageA.getByTestId('device-row')).toHaveAttribute('data-session-id', sessionA!);
});
