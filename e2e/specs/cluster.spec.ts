/**
 * The same deployment on a local 3-master Redis Cluster (docs/redis.md, "Redis Cluster"): two demo processes, each device a
 * browser context on its own process. Silent refresh rotates through the sharded store, and a logout-all made on one
 * process reaches the other through the shards' logs and the Pub/Sub bell at once.
 */
import type { APIRequestContext } from '@playwright/test';
import { TokenRecorder, callMeSucceeds, expectSignedIn, expectSignedOut, freezeTime, newSignedInPage, withoutLivePush } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ cluster: true });

/** Replays every token against GET /api/me of `base`, outside the browser. */
async function statusesOn(request: APIRequestContext, base: string, tokens: Iterable<string>): Promise<number[]> {
  const statuses: number[] = [];
  for (const token of tokens) statuses.push((await request.get(`${base}/api/me`, { headers: { Authorization: `Bearer ${token}` } })).status());
  return statuses;
}

test('on a Redis Cluster, devices on two demo processes refresh silently, and a logout-all on one signs the other out', async ({
  browser,
  newDevice,
  request,
}) => {
  const first = stack().demo;
  const second = await stack().addDemo();
  const deviceA = await newDevice();
  const deviceB = await browser.newContext({ baseURL: second.url });
  // No live push for B: this spec checks that B learns at its next API call.
  await withoutLivePush(deviceB);
  // The fake clock goes in before B's page loads: freezeTime below can only hold the timers it installed, and a
  // real timer of B's firing after the logout-all would tell B through a refresh instead of at its next call.
  await deviceB.clock.install();
  try {
    const tokensA = new TokenRecorder(deviceA);
    const tokensB = new TokenRecorder(deviceB);
    const pageA = await newSignedInPage(deviceA, 'alice', 'laptop-on-a');
    const pageB = await newSignedInPage(deviceB, 'alice', 'phone-on-b');
    await callMeSucceeds(pageA);
    await callMeSucceeds(pageB);

    // Each device rotates at least once on its own process, without a sign-out.
    const timeout = stack().accessTtlSeconds * 1000 + 5_000;
    await expect.poll(() => tokensA.rotatedCount(), { timeout }).toBeGreaterThan(0);
    await expect.poll(() => tokensB.rotatedCount(), { timeout }).toBeGreaterThan(0);
    await expectSignedIn(pageA);
    await expectSignedIn(pageB);
    await tokensB.settle();
    // B's tokens work on both processes (one deployment on one Cluster).
    const latestB = [...tokensB.tokens].at(-1)!;
    expect(await statusesOn(request, first.url, [latestB])).toEqual([200]);
    expect(await statusesOn(request, second.url, [latestB])).toEqual([200]);

    await freezeTime(deviceB);
    await pageA.getByTestId('logout-all').click();
    await expectSignedOut(pageA, 'logout_all');

    // Every token B ever held is refused by both processes at once.
    await tokensB.settle();
    const heldByB = [...tokensB.tokens];
    await expect.poll(() => statusesOn(request, second.url, heldByB), { timeout: 2000, intervals: [20] }).toEqual(heldByB.map(() => 401));
    expect(await statusesOn(request, first.url, heldByB)).toEqual(heldByB.map(() => 401));

    // B learns it at its next API call.
    await pageB.getByTestId('call-me').click();
    await expectSignedOut(pageB, 'session_revoked');
    expect(tokensB.refreshes.filter((r) => r.error === 'reuse_detected')).toEqual([]);
  } finally {
    await deviceB.close();
  }
});
