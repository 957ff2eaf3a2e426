/**
 * The deployment the browser specs run against, checked over plain HTTP first: a real redis-server, two demo
 * processes on it acting as one deployment, the session cookie's attributes, and the /metrics counters the
 * multi-tab spec counts refreshes with. When this file fails, the browser specs cannot mean anything.
 */
import { countDelta, HttpDevice, refreshCounts, SESSION_COOKIE } from '@latchkey/testkit';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ requirePage: false });

test('the demo server answers on its public route and serves a page at /', async ({ request }) => {
  const pub = await request.get('/api/public');
  expect(pub.status()).toBe(200);
  const page = await request.get('/');
  expect(page.status()).toBe(200);
  expect(page.headers()['content-type']).toContain('text/html');
});

test('the session cookie is __Host-, HttpOnly, Secure, SameSite=Strict, and refreshes are counted in /metrics', async () => {
  const { demo } = stack();
  const device = new HttpDevice(demo.url);
  await device.login('alice', 'wonderland', { deviceName: 'harness' });
  const cookie = device.setCookieHeaders.find((c) => c.startsWith(`${SESSION_COOKIE}=`));
  expect(cookie).toBeDefined();
  expect(cookie).toMatch(/;\s*HttpOnly/i);
  expect(cookie).toMatch(/;\s*Secure/i);
  expect(cookie).toMatch(/;\s*SameSite=Strict/i);
  expect(cookie).toMatch(/;\s*Path=\//i);
  expect(cookie).not.toMatch(/;\s*Domain=/i);

  const before = await refreshCounts(demo.url);
  const res = await device.refresh();
  expect(res.status).toBe(200);
  const delta = countDelta(before, await refreshCounts(demo.url));
  expect(delta).toEqual({ rotated: 1, total: 1 });
  expect((await device.me()).status).toBe(200);
});

test('two demo processes on one Redis and secret act as one deployment', async () => {
  const { demo, addDemo } = stack();
  const other = await addDemo();
  const device = new HttpDevice(demo.url);
  await device.login('bob', 'builder', { deviceName: 'harness-2' });
  const token = device.token;
  // Issued by one process, accepted by the other; the cookie refreshes on either.
  expect((await device.me({ token, base: other.url })).status).toBe(200);
  expect((await device.refresh(other.url)).status).toBe(200);
  expect((await device.me()).status).toBe(200);
  // A logout-all on the second is enforced by the first at once.
  expect((await device.logoutAll(other.url)).status).toBe(204);
  await expect.poll(async () => (await device.me()).status, { timeout: 5_000 }).toBe(401);
  expect((await device.me({ token })).status).toBe(401);
  await other.stop();
});
