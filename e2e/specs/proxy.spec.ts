/**
 * Proxy mode (LATCHKEY_DEMO_PROXY=true, docs/proxy.md) on two demo processes sharing one Redis: the page reaches
 * /api/me and /api/admin only through `bff.proxy`, which forwards to the demo's separate upstream API with a token it
 * attaches itself. The credential rotates every 6 s (grace 5 s) inside ordinary proxied answers.
 */
import type { BrowserContext, Page } from '@playwright/test';
import { freePort, fetchMetrics, metricSum } from '@latchkey/testkit';
import {
  callMeSucceeds,
  expectSignedIn,
  expectSignedOut,
  isApiMe,
  login,
  newSignedInPage,
  openDemo,
  readableBrowserState,
  withoutLivePush,
} from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';
import { watchForJwts } from '../support/jwt-watch.js';

const ROTATION_SECONDS = 6;
const stack = useStack({
  env: { LATCHKEY_DEMO_PROXY: 'true', LATCHKEY_PROXY_ROTATION_SECONDS: String(ROTATION_SECONDS), LATCHKEY_ROTATION_GRACE_SECONDS: '5' },
});

/** The session cookie's value in the device's jar (the page cannot read it: HttpOnly). */
async function sessionCookieValue(context: BrowserContext): Promise<string | undefined> {
  return (await context.cookies()).find((c) => /latchkey$/.test(c.name))?.value;
}

async function theftDetections(): Promise<number> {
  let total = 0;
  for (const demo of stack().demos) total += metricSum(await fetchMetrics(demo.url), 'latchkey_theft_detections_total') ?? 0;
  return total;
}

/** `n` proxied calls at once from the page, as its own script would make them: their statuses. */
const parallelCalls = (page: Page, n: number) =>
  page.evaluate(
    (count) => Promise.all(Array.from({ length: count }, () => fetch('/api/me', { headers: { 'X-CSRF': '1' }, credentials: 'include' }).then((r) => r.status))),
    n,
  );

test('the page never sees a JWT over a whole session, across several cookie rotations', async ({ newDevice }) => {
  test.setTimeout(90_000);
  const device = await newDevice();
  const sightings = await watchForJwts(device);
  const page = await device.newPage();
  // Every response the page's requests got, as the browser received it.
  const bodies: string[] = [];
  page.on('response', (response) => {
    void response
      .text()
      .then((text) => bodies.push(`${response.url()} ${JSON.stringify(response.headers())} ${text}`))
      .catch(() => undefined);
  });
  await openDemo(page);
  await login(page, 'alice', 'proxy-jwt');
  const cookies = new Set([await sessionCookieValue(device)]);
  for (let round = 0; round < 3; round++) {
    await callMeSucceeds(page);
    await page.getByTestId('call-admin').click();
    await expect(page.getByTestId('admin-result')).toHaveAttribute('data-state', 'ok');
    await page.waitForTimeout(ROTATION_SECONDS * 1000 + 500);
    // The next proxied call rotates the credential in its own answer.
    await callMeSucceeds(page);
    cookies.add(await sessionCookieValue(device));
  }
  expect(cookies.size).toBeGreaterThanOrEqual(3);
  await page.reload();
  await expectSignedIn(page);
  await callMeSucceeds(page);
  expect(sightings).toEqual([]);
  expect(await readableBrowserState(page)).not.toContain('eyJ');
  expect(bodies.filter((b) => b.includes('eyJ'))).toEqual([]);
  expect(bodies.some((b) => b.includes('/api/me'))).toBe(true);
});

test('5 tabs with 20 parallel proxied calls each across rotations: no failed call, no theft alarm', async ({ newDevice }) => {
  test.setTimeout(90_000);
  const theftBefore = await theftDetections();
  const device = await newDevice();
  const first = await newSignedInPage(device, 'alice', 'proxy-tabs');
  const tabs = [first, ...(await Promise.all(Array.from({ length: 4 }, () => device.newPage())))];
  await Promise.all(tabs.slice(1).map((tab) => openDemo(tab)));
  for (const tab of tabs) await expectSignedIn(tab);
  const before = await sessionCookieValue(device);
  const statuses: number[] = [];
  for (let round = 0; round < 2; round++) {
    await first.waitForTimeout(ROTATION_SECONDS * 1000 + 500);
    // Due for rotation: 100 calls at once, all carrying the same cookie; then 100 more while tabs pick up the new one.
    for (let burst = 0; burst < 2; burst++) statuses.push(...(await Promise.all(tabs.map((tab) => parallelCalls(tab, 20)))).flat());
  }
  expect(statuses).toHaveLength(400);
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  expect(await sessionCookieValue(device)).not.toBe(before);
  expect(await theftDetections()).toBe(theftBefore);
  for (const tab of tabs) await expectSignedIn(tab);
});

test('logout-all on device A: device B’s next proxied call, on the other process, fails and signs it out', async ({ newDevice, browser }) => {
  const second = stack().demos[1] ?? (await stack().addDemo());
  const a = await newSignedInPage(await newDevice(), 'alice', 'proxy-A');
  // Device B lives on the second process, and without the push stream: its next call is what must fail.
  const deviceB = await browser.newContext({ baseURL: second.url });
  await withoutLivePush(deviceB);
  try {
    const b = await newSignedInPage(deviceB, 'alice', 'proxy-B');
    await callMeSucceeds(b);
    await a.getByTestId('logout-all').click();
    await expectSignedOut(a);
    const refused = b.waitForResponse((r) => isApiMe(r));
    await b.getByTestId('call-me').click();
    const response = await refused;
    expect(response.status()).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'session_revoked' });
    await expectSignedOut(b, 'session_revoked');
  } finally {
    await deviceB.close();
  }
});

test('upstream down: 502 upstream_unavailable as JSON, and nobody is signed out', async ({ browser }) => {
  const broken = await stack().addDemo({ LATCHKEY_DEMO_UPSTREAM_URL: `http://127.0.0.1:${await freePort()}` });
  const device = await browser.newContext({ baseURL: broken.url });
  try {
    const page = await newSignedInPage(device, 'alice', 'proxy-down');
    const answered = page.waitForResponse((r) => isApiMe(r));
    await page.getByTestId('call-me').click();
    const response = await answered;
    expect(response.status()).toBe(502);
    expect(await response.json()).toEqual({ error: 'upstream_unavailable', message: expect.any(String) });
    await expect(page.getByTestId('me-result')).toHaveAttribute('data-state', 'error');
    await expect(page.getByTestId('me-result')).toContainText('could not be reached');
    await expectSignedIn(page);
    await page.reload();
    await expectSignedIn(page);
  } finally {
    await device.close();
  }
});
