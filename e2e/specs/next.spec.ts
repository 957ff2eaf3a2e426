/**
 * The Next.js App Router example (examples/next) in its production build (`next build`, made by the global setup,
 * then `next start`), on a real redis-server: the BFF's routes in one catch-all route handler over `bff.fetch`,
 * server components reading the session with `bff.getSession(await headers())`, server-side data with
 * `bff.getAccessToken`, client components on `useSession`.
 *
 * Refreshes and thefts are counted at the BFF's metrics (the example's `/metrics`, behind the test token).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test as base, expect, type BrowserContext, type Page } from '@playwright/test';
import {
  countDelta,
  fetchMetrics,
  metricByLabel,
  metricSum,
  startNodeProcess,
  startRedisServer,
  TEST_METRICS_TOKEN,
  type NodeProcess,
  type RedisServer,
} from '@latchkey/testkit';
import { NEXT_DIR } from '../support/global-setup.js';

const NAME = 'Alice Liddell';

interface NextApp {
  url: string;
  redis: RedisServer;
  server: NodeProcess;
}

const test = base.extend<{ newDevice: () => Promise<BrowserContext> }, { next: NextApp }>({
  next: [
    async ({}, use) => {
      const redis = await startRedisServer();
      const server = await startNodeProcess({
        script: join(NEXT_DIR, 'start.mjs'),
        cwd: NEXT_DIR,
        host: 'localhost',
        readyPath: '/auth/jwks.json',
        readyTimeoutMs: 30_000,
        env: {
          NODE_ENV: 'production',
          NEXT_TELEMETRY_DISABLED: '1',
          REDIS_URL: redis.url,
          LATCHKEY_SECRET: `e2e-${randomBytes(24).toString('base64url')}`,
          // Long enough that no scheduled silent refresh falls inside a counting window.
          LATCHKEY_ACCESS_TTL: '120',
          LATCHKEY_METRICS_TOKEN: TEST_METRICS_TOKEN,
        },
      });
      try {
        await use({ url: server.url, redis, server });
      } finally {
        await server.stop();
        await redis.stop();
      }
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ next }, use) => use(next.url),
  newDevice: async ({ browser, next }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async () => {
      const context = await browser.newContext({ baseURL: next.url });
      contexts.push(context);
      return context;
    });
    await Promise.all(contexts.map((c) => c.close()));
  },
});

async function counts(url: string): Promise<{ refreshes: Record<string, number>; thefts: number }> {
  const text = await fetchMetrics(url);
  return { refreshes: metricByLabel(text, 'latchkey_refreshes_total', 'outcome'), thefts: metricSum(text, 'latchkey_theft_detections_total') ?? 0 };
}

/** Signs in through the home page's form (a client component), then the page reloads rendered signed in. */
async function signIn(device: BrowserContext): Promise<Page> {
  const page = await device.newPage();
  await page.goto('/');
  await expect(page.getByTestId('status')).toHaveText('unauthenticated');
  await page.getByTestId('login-password').fill('wonderland');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('greeting')).toHaveText(`Hello, ${NAME}`);
  return page;
}

test('the first HTML of the protected page already contains the user, with server-side data fetched with getAccessToken', async ({ newDevice }) => {
  const device = await newDevice();
  await (await signIn(device)).close();
  const page = await device.newPage();
  const response = (await page.goto('/protected'))!;
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain(NAME);
  expect(html).toMatch(/data-testid="server-data">user-alice on /);
  expect(html).toContain('data-testid="status">authenticated<');
  expect(await response.headerValue('set-cookie')).toBeNull();
  // Hydrated client components on useSession: the browser's first API call fetches its token.
  await page.getByTestId('call-me').click();
  await expect(page.getByTestId('browser-data')).toHaveText('user-alice');
  await expect(page.getByTestId('device-row')).toHaveCount(1);
});

test('a signed-out visit to the protected page is redirected by the server', async ({ newDevice }) => {
  const device = await newDevice();
  const page = await device.newPage();
  const response = await page.request.get('/protected', { maxRedirects: 0 });
  expect(response.status()).toBe(307);
  expect(response.headers().location).toBe('/');
  await page.goto('/protected');
  expect(new URL(page.url()).pathname).toBe('/');
  await expect(page.getByTestId('greeting')).toHaveText('Hello, guest');
});

test('20 reloads: 0 refreshes caused by rendering and 0 theft detections', async ({ newDevice, next }) => {
  const device = await newDevice();
  const page = await signIn(device);
  await page.goto('/protected');
  const before = await counts(next.url);
  for (let i = 0; i < 20; i++) {
    const response = (await page.reload())!;
    expect(response.status()).toBe(200);
    expect(await response.text()).toContain(NAME);
  }
  await expect(page.getByTestId('status')).toHaveText('authenticated');
  const after = await counts(next.url);
  expect(countDelta(before.refreshes, after.refreshes)).toEqual({ total: 0 });
  expect(after.thefts).toBe(before.thefts);
});

test('logout-all on another device: the next server render of this device is signed out', async ({ newDevice }) => {
  const laptop = await newDevice();
  const page = await signIn(laptop);
  const phone = await newDevice();
  const phonePage = await signIn(phone);
  await phonePage.getByTestId('logout-all').click();
  await expect(phonePage.getByTestId('greeting')).toHaveText('Hello, guest');
  expect((await laptop.request.get('/protected', { maxRedirects: 0 })).status()).toBe(307);
  await page.reload();
  await expect(page.getByTestId('greeting')).toHaveText('Hello, guest');
});

test('two tabs: server renders and client refreshes interleaved across rotations raise no theft', async ({ newDevice, next }) => {
  const device = await newDevice();
  const rendering = await signIn(device);
  const refreshing = await device.newPage();
  await refreshing.goto('/');
  const before = await counts(next.url);
  for (let i = 0; i < 5; i++) {
    const [rendered, refreshed] = await Promise.all([
      rendering.goto('/protected'),
      refreshing.evaluate(
        async () => (await fetch('/auth/refresh', { method: 'POST', headers: { 'X-CSRF': '1', 'Content-Type': 'application/json' }, body: '{}' })).status,
      ),
    ]);
    expect(refreshed).toBe(200);
    expect(rendered?.status()).toBe(200);
    expect(await rendered!.text()).toContain(NAME);
  }
  await rendering.getByTestId('call-me').click();
  await expect(rendering.getByTestId('browser-data')).toHaveText('user-alice');
  const after = await counts(next.url);
  const delta = countDelta(before.refreshes, after.refreshes);
  expect(delta.reuse_detected ?? 0).toBe(0);
  expect(delta.rotated).toBeGreaterThanOrEqual(5);
  expect(after.thefts).toBe(before.thefts);
});
