/**
 * The page's defences in real Chromium: the demo page works under its Content Security Policy (no violation while
 * signing in, calling the API, reloading and signing out), and the axios adapter never sends the access token
 * to another origin that a `<base href>` points relative URLs at.
 */
import { build } from 'esbuild';
import type { Page } from '@playwright/test';
import { callMeSucceeds, expectSignedIn, expectSignedOut, login } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';
import { REPO_ROOT } from '@latchkey/testkit';

const stack = useStack();

/** CSP violations, as the page's `securitypolicyviolation` events and Chromium's console report them. */
async function recordCspViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(`console: ${message.text()}`);
  });
  await page.exposeFunction('__reportCspViolation', (text: string) => void violations.push(text));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      (window as unknown as { __reportCspViolation(text: string): void }).__reportCspViolation(
        `${event.violatedDirective} blocked ${event.blockedURI || '(inline)'}`,
      );
    });
  });
  return violations;
}

test('the demo page runs under its CSP without a single violation', async ({ newDevice }) => {
  const device = await newDevice();
  const page = await device.newPage();
  const violations = await recordCspViolations(page);
  const answer = await page.goto('/');
  const csp = answer!.headers()['content-security-policy'] ?? '';
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("base-uri 'none'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(answer!.headers()['x-content-type-options']).toBe('nosniff');
  expect(answer!.headers()['referrer-policy']).toBe('no-referrer');

  await login(page, 'alice', 'csp-device');
  await callMeSucceeds(page);
  await page.reload(); // the session comes back from the cookie, under the same policy
  await expectSignedIn(page);
  await callMeSucceeds(page);
  await page.getByTestId('logout').click();
  await expectSignedOut(page, 'logout');
  expect(violations).toEqual([]);

  // The policy is enforced, not merely sent: an injected inline script is refused and reported.
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.__inline = 1';
    document.head.append(script);
  });
  await expect.poll(() => violations.length).toBeGreaterThan(0);
  expect(violations.every((v) => /script-src/.test(v))).toBe(true);
  expect(await page.evaluate(() => (window as unknown as { __inline?: number }).__inline)).toBeUndefined();
});

/** The client core, the axios adapter and axios, bundled for the browser from this checkout's sources. */
async function bundleClient(): Promise<string> {
  const out = await build({
    stdin: {
      contents: `
        import axios from 'axios';
        import { createSessionClient } from '@latchkey/client';
        import { attachAxios } from '@latchkey/client/axios';
        window.__latchkey = { axios, createSessionClient, attachAxios };`,
      resolveDir: REPO_ROOT,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'error',
    alias: {
      '@latchkey/client/axios': `${REPO_ROOT}client/src/axios/index.ts`,
      '@latchkey/client': `${REPO_ROOT}client/src/index.ts`,
      '@latchkey/shared': `${REPO_ROOT}shared/src/index.ts`,
    },
  });
  return out.outputFiles[0]!.text;
}

test('a <base href> pointing at another origin never receives the Bearer token', async ({ newDevice }) => {
  const demo = stack().demo.url;
  // Another origin, answered by the test (Chromium would refuse a page it serves itself access to loopback): it
  // records what reaches it and lets any origin read its answers (CORS), so a request with a token would go through.
  const foreign = 'https://foreign.example.test';
  const seen: Array<{ method: string; path: string; headers: Record<string, string> }> = [];
  const device = await newDevice();
  const page = await device.newPage();
  await page.route(`${foreign}/**`, async (route) => {
    const request = route.request();
    seen.push({ method: request.method(), path: new URL(request.url()).pathname, headers: await request.allHeaders() });
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'authorization, content-type' };
    await route.fulfill(request.method() === 'OPTIONS' ? { status: 204, headers: cors } : { status: 200, headers: cors, json: { foreign: true } });
  });
  // A page on the demo's origin (served by the test, so without the demo's CSP, whose base-uri 'none' would refuse
  // the <base> outright) whose relative URLs the browser resolves against the other origin.
  const script = await bundleClient();
  await page.route(`${demo}/base-href-test.js`, (route) => route.fulfill({ contentType: 'text/javascript', body: script }));
  await page.route(`${demo}/base-href-test.html`, (route) =>
    route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><html><head><base href="${foreign}/"><script type="module" src="${demo}/base-href-test.js"></script></head><body></body></html>`,
    }),
  );
  await page.goto(`${demo}/base-href-test.html`);
  await page.waitForFunction(() => '__latchkey' in window);
  expect(await page.evaluate(() => document.baseURI)).toBe(`${foreign}/`);

  const results = await page.evaluate(async (demoUrl) => {
    type Lib = {
      axios: { create(): { get(url: string): Promise<{ status: number }> } };
      createSessionClient(options: object): { start(): void; login(c: object): Promise<void> };
      attachAxios(instance: unknown, client: unknown): () => void;
    };
    const { axios, createSessionClient, attachAxios } = (window as unknown as { __latchkey: Lib }).__latchkey;
    // The page's own origin is an API origin: relative URLs would get the token if they stayed on it.
    const session = createSessionClient({ bffUrl: `${demoUrl}/auth`, apiOrigins: [location.origin], channelName: 'base-href-test' });
    session.start();
    await session.login({ username: 'alice', password: 'wonderland' });
    const api = axios.create();
    attachAxios(api, session);
    const call = (url: string) =>
      api.get(url).then(
        (r) => r.status,
        (e: { response?: { status: number } }) => e.response?.status ?? -1,
      );
    return {
      // The demo's own API, by absolute URL: the token goes there (the adapter is working).
      own: await call(`${demoUrl}/api/me`),
      // Relative URLs: the browser sends them to the <base> origin.
      relative: await call('api/me'),
      rooted: await call('/api/me'),
    };
  }, demo);

  expect(results).toEqual({ own: 200, relative: 200, rooted: 200 });
  expect(seen.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual(['/api/me', '/api/me']);
  for (const request of seen) {
    expect(request.headers['authorization']).toBeUndefined();
    expect(request.headers['access-control-request-headers'] ?? '').not.toMatch(/authorization/i);
  }
});
