/**
 * Proxy mode (LATCHKEY_DEMO_PROXY=true, docs/proxy.md) beyond plain calls: a WebSocket and server-sent events
 * through `bff.proxy` from the page (/api/ticks on the demo's upstream API), a WebSocket refused from a page on
 * another origin that still carries the cookie, a socket closed when its session ends, and a paused Redis.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from '@playwright/test';
import { fetchMetrics, metricByLabel } from '@latchkey/testkit';
import { callMeSucceeds, expectSignedIn, isApiMe, newSignedInPage } from '../support/demo-page.js';
import { expect, test, useStack } from '../support/fixtures.js';

const stack = useStack({ env: { LATCHKEY_DEMO_PROXY: 'true' } });

/** What a WebSocket opened by the page saw: the first two messages (or none), and how it closed. */
interface SocketRun {
  opened: boolean;
  messages: string[];
  close: { code: number; reason: string } | null;
}

/** Opens `url` as a WebSocket from the page, sends `hello` after the first message, and waits for the echo or the close. */
function runSocket(page: Page, url: string): Promise<SocketRun> {
  return page.evaluate(
    (target) =>
      new Promise<SocketRun>((resolve) => {
        const run: SocketRun = { opened: false, messages: [], close: null };
        const ws = new WebSocket(target);
        ws.onopen = () => (run.opened = true);
        ws.onmessage = (event) => {
          run.messages.push(String(event.data));
          if (run.messages.length === 1) ws.send('hello');
          if (run.messages.some((m) => m.includes('"echo"'))) ws.close(1000);
        };
        ws.onclose = (event) => {
          run.close = { code: event.code, reason: event.reason };
          resolve(run);
        };
      }),
    url,
  );
}

async function refusedUpgrades(): Promise<number> {
  return metricByLabel(await fetchMetrics(stack().demo.url), 'latchkey_proxy_requests_total', 'outcome').refused ?? 0;
}

let foreign: Server | undefined;
test.afterAll(async () => {
  if (foreign) await new Promise((resolve) => foreign!.close(resolve));
});

test('a WebSocket and server-sent events through the proxy work from the page', async ({ newDevice }) => {
  const page = await newSignedInPage(await newDevice(), 'alice', 'proxy-ws');
  const socketUrl = `${stack().demo.url.replace('http', 'ws')}/api/ticks`;
  const run = await runSocket(page, socketUrl);
  expect(run.opened).toBe(true);
  expect(JSON.parse(run.messages[0]!)).toMatchObject({ tick: 1, sub: 'user-alice' });
  expect(run.messages.map((m) => JSON.parse(m) as Record<string, unknown>)).toContainEqual({ echo: 'hello', sub: 'user-alice' });
  expect(run.close?.code).toBe(1000);
  expect(run.messages.join('')).not.toContain('eyJ');

  // Server-sent events, read as the page's own script reads a stream (fetch with X-CSRF: 1): the first tick arrives
  // while the upstream's stream goes on.
  const firstEvent = await page.evaluate(async () => {
    const controller = new AbortController();
    const res = await fetch('/api/ticks', { headers: { 'X-CSRF': '1', Accept: 'text/event-stream' }, signal: controller.signal });
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    controller.abort();
    return { status: res.status, type: res.headers.get('content-type'), text: new TextDecoder().decode(value) };
  });
  expect(firstEvent.status).toBe(200);
  expect(firstEvent.type).toMatch(/^text\/event-stream/);
  expect(firstEvent.text).toMatch(/^id: 1\ndata: \{"tick":1,"sub":"user-alice"\}/);
});

test('a page on another origin gets no WebSocket, even though the browser sends the cookie', async ({ newDevice }) => {
  const device = await newDevice();
  await newSignedInPage(device, 'alice', 'proxy-ws-foreign');
  // The same host on another port: same-site, so the SameSite=Strict cookie goes along; only the Origin check stops it.
  foreign = createServer((_req, res) => void res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
  await new Promise<void>((resolve) => foreign!.listen(0, '127.0.0.1', resolve));
  const page = await device.newPage();
  await page.goto(`http://127.0.0.1:${(foreign.address() as AddressInfo).port}/`);
  const refusedBefore = await refusedUpgrades();
  const run = await runSocket(page, `${stack().demo.url.replace('http', 'ws')}/api/ticks`);
  expect(run.opened).toBe(false);
  expect(run.messages).toEqual([]);
  expect(run.close?.code).toBe(1006);
  expect(await refusedUpgrades()).toBe(refusedBefore + 1);
});

test('an open WebSocket closes with 4401 when the session is signed out everywhere', async ({ newDevice }) => {
  const a = await newSignedInPage(await newDevice(), 'alice', 'proxy-ws-A');
  const b = await newSignedInPage(await newDevice(), 'alice', 'proxy-ws-B');
  const url = `${stack().demo.url.replace('http', 'ws')}/api/ticks`;
  const closed = b.evaluate(
    (target) =>
      new Promise<{ code: number; reason: string; ticks: number }>((resolve) => {
        let ticks = 0;
        const ws = new WebSocket(target);
        ws.onmessage = () => {
          ticks++;
          if (ticks === 1) (window as unknown as { __ticking: boolean }).__ticking = true;
        };
        ws.onclose = (event) => resolve({ code: event.code, reason: event.reason, ticks });
      }),
    url,
  );
  await b.waitForFunction(() => (window as unknown as { __ticking?: boolean }).__ticking === true);
  await a.getByTestId('logout-all').click();
  const result = await closed;
  expect(result.code).toBe(4401);
  expect(result.reason).toBe('session_revoked');
  expect(result.ticks).toBeGreaterThanOrEqual(1);
});

test('Redis paused: a proxied call answers 503 with Retry-After and nobody is signed out; resumed, it works', async ({ newDevice }) => {
  test.setTimeout(60_000);
  const page = await newSignedInPage(await newDevice(), 'alice', 'proxy-redis-paused');
  await callMeSucceeds(page);
  stack().redis.pause();
  try {
    // A call in the first moments may still be answered: a session resolved a moment ago is vouched for by the
    // revocation view while that view is current (as the guard trusts it), and the view goes stale only once the store
    // stops answering. Then every call fails closed.
    const callMe = async () => {
      const answered = page.waitForResponse((r) => isApiMe(r), { timeout: 15_000 });
      await page.getByTestId('call-me').click();
      return answered;
    };
    let response = await callMe();
    const until = Date.now() + 10_000;
    while (response.status() === 200 && Date.now() < until) {
      await page.waitForTimeout(250);
      response = await callMe();
    }
    expect(response.status()).toBe(503);
    expect(Number(await response.headerValue('retry-after'))).toBeGreaterThan(0);
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
    await expect(page.getByTestId('me-result')).toHaveAttribute('data-state', 'error');
    await expectSignedIn(page);
  } finally {
    stack().redis.resume();
  }
  await expect(async () => callMeSucceeds(page)).toPass({ timeout: 20_000 });
  await page.reload();
  await expectSignedIn(page);
});
