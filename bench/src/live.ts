/**
 * The push benchmarks of `npm run bench` (issue 10), each bounded and self-stopping:
 * - pushLatency: from a logout-all returning on demo process A to another device's page (real Chromium, the real
 *   demo page and client) showing signed-out on demo process B;
 * - streamsUnderLoad: memory per open `GET /auth/events` stream on one demo process, and its guarded-route
 *   throughput with 2,000 streams open against an identical process without streams, side by side.
 */
import { request as httpRequest, Agent, type ClientRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { fetchMetrics, metricSum } from '@latchkey/testkit';
import { startNode } from './launch.js';
import { measure, type ThroughputResult } from './throughput.js';

const SECRET = 'bench-live-secret-0123456789-abcdefghijkl';
const PASSWORDS: Record<string, string> = { alice: 'wonderland', bob: 'builder' };

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

interface Login {
  cookieName: string;
  cookieValue: string;
  token: string;
}

async function login(base: string, user: string, ip: string): Promise<Login> {
  const res = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF': '1', 'X-Forwarded-For': ip },
    body: JSON.stringify({ username: user, password: PASSWORDS[user], deviceName: 'bench' }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const [name, value] = res.headers.getSetCookie()[0]!.split(';')[0]!.split(/=(.*)/s) as [string, string];
  return { cookieName: name, cookieValue: value, token: ((await res.json()) as { accessToken: string }).accessToken };
}

function chromiumPath(): string {
  for (const candidate of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (candidate) {
      try {
        readFileSync(candidate, { flag: 'r' });
        return candidate;
      } catch {
        // try the next one
      }
    }
  }
  throw new Error('chromium not found (set CHROMIUM_PATH)');
}

/** Page script: the wall-clock time the status first showed "unauthenticated" after it had been "authenticated". */
const RECORD_SIGN_OUT = `(() => {
  let seenIn = false;
  window.__signedOutAt = null;
  window.__resetSignOut = () => { seenIn = false; window.__signedOutAt = null; };
  const check = () => {
    const status = document.querySelector('[data-testid="status"]')?.getAttribute('data-status');
    if (status === 'authenticated') seenIn = true;
    else if (status === 'unauthenticated' && seenIn && window.__signedOutAt === null) window.__signedOutAt = Date.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
})()`;

/**
 * `trials` times: device B (one browser page, the demo page on process B) signs in through the page's form and waits
 * for its event stream; device A, the same user on process A, calls logout-all; the time from that call returning to
 * B's page switching to signed-out is one sample. Bounded: stops after two minutes whatever the trial count.
 */
export async function pushLatency(redisUrl: string, trials: number) {
  const env = { REDIS_URL: redisUrl, LATCHKEY_SECRET: SECRET, LATCHKEY_ACCESS_TTL: '300', LATCHKEY_LOG_LEVEL: 'error' };
  const a = await startNode(DEMO(), env, '/api/public');
  const b = await startNode(DEMO(), { ...env, LATCHKEY_ISSUER: `http://localhost:${a.port}` }, '/api/public');
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
  const samples: number[] = [];
  const deadline = Date.now() + 120_000;
  const ip = (n: number) => `10.3.${Math.floor(n / 250)}.${(n % 250) + 1}`;
  try {
    // bypassCSP: the page's CSP (script-src 'self') refuses the measuring scripts this harness evaluates in it.
    const context = await browser.newContext({ baseURL: `http://localhost:${b.port}`, bypassCSP: true });
    await context.addInitScript({ content: RECORD_SIGN_OUT });
    const page = await context.newPage();
    await page.goto('/');
    for (let i = 0; i < trials && Date.now() < deadline; i++) {
      // Each sign-in from its own address: the per-IP login limit is not what is measured here.
      await context.setExtraHTTPHeaders({ 'X-Forwarded-For': ip(2 * i) });
      await page.waitForSelector('[data-testid="status"][data-status="unauthenticated"]', { timeout: 20_000 });
      await page.evaluate('window.__resetSignOut()');
      await page.fill('[data-testid="login-username"]', 'alice');
      await page.fill('[data-testid="login-password"]', PASSWORDS.alice!);
      const streamOpen = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/events' && r.status() === 200, { timeout: 20_000 });
      await page.click('[data-testid="login-submit"]');
      await page.waitForSelector('[data-testid="status"][data-status="authenticated"]', { timeout: 20_000 });
      await streamOpen;
      const deviceA = await login(a.url, 'alice', ip(2 * i + 1));
      const res = await fetch(`${a.url}/auth/logout-all`, {
        method: 'POST',
        headers: { 'X-CSRF': '1', Cookie: `${deviceA.cookieName}=${deviceA.cookieValue}` },
      });
      const returnedAt = Date.now();
      if (res.status !== 204) throw new Error(`logout-all answered ${res.status}`);
      await page.waitForFunction('window.__signedOutAt !== null', undefined, { timeout: 10_000, polling: 20 });
      const signedOutAt = (await page.evaluate('window.__signedOutAt')) as number;
      samples.push(Math.max(0, signedOutAt - returnedAt));
    }
  } finally {
    await browser.close();
    await Promise.all([a.stop(), b.stop()]);
  }
  samples.sort((x, y) => x - y);
  return {
    trials: samples.length,
    p50Ms: round(percentile(samples, 50), 1),
    p99Ms: round(percentile(samples, 99), 1),
    maxMs: round(samples.at(-1) ?? NaN, 1),
    targetP99Ms: 1000,
    withinTarget: percentile(samples, 99) <= 1000,
  };
}

/** A scraped value from the demo's Prometheus metrics. */
async function metric(base: string, name: string): Promise<number> {
  return metricSum(await fetchMetrics(base), name) ?? NaN;
}

/** Opens `count` event streams with the given cookies (round-robin); resolves once every one has its first bytes. */
async function openStreams(base: string, cookies: string[], count: number): Promise<{ close(): void; open: () => number }> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: ClientRequest[] = [];
  let open = 0;
  const batch = 100;
  for (let i = 0; i < count; i += batch) {
    await Promise.all(
      Array.from(
        { length: Math.min(batch, count - i) },
        (_, j) =>
          new Promise<void>((resolve, reject) => {
            let answered = false;
            const req = httpRequest(
              `${base}/auth/events`,
              { agent, headers: { Cookie: cookies[(i + j) % cookies.length]!, Accept: 'text/event-stream' } },
              (res) => {
                answered = true;
                if (res.statusCode !== 200) return reject(new Error(`stream refused: ${res.statusCode}`));
                open++;
                res.once('data', () => resolve());
                res.on('data', () => undefined);
                res.on('close', () => open--);
              },
            );
            // Once answered, an error is the stream closing (at the end of the bench); before, the stream never opened.
            req.on('error', (error) => void (answered ? undefined : reject(error)));
            req.end();
            requests.push(req);
          }),
      ),
    );
  }
  return {
    open: () => open,
    close: () => {
      for (const req of requests) req.destroy();
      agent.destroy();
    },
  };
}

/**
 * Two identical demo processes on one Redis; one holds `streams` open event streams. Reports the streamed process's
 * memory growth per stream (RSS and V8 heap, from its metrics) and the guarded route's throughput on both, measured
 * in interleaved rounds so the machine's drift hits both alike.
 */
export async function streamsUnderLoad(redisUrl: string, options: { streams: number; durationSeconds: number; rounds: number; connections: number }) {
  const env = {
    REDIS_URL: redisUrl,
    LATCHKEY_SECRET: SECRET,
    LATCHKEY_ACCESS_TTL: '300',
    LATCHKEY_LOG_LEVEL: 'error',
    LATCHKEY_EVENT_STREAMS_PER_USER: String(options.streams),
    // Many streams over 20 device sessions: the per-device cap (3 by default) is not what is measured here.
    LATCHKEY_EVENT_STREAMS_PER_DEVICE: String(options.streams),
    LATCHKEY_EVENT_STREAMS_MAX: String(options.streams * 2),
  };
  const withStreams = await startNode(DEMO(), env, '/api/public');
  const without = await startNode(DEMO(), { ...env, LATCHKEY_ISSUER: `http://localhost:${withStreams.port}` }, '/api/public');
  let streams: Awaited<ReturnType<typeof openStreams>> | undefined;
  try {
    const sessions = await Promise.all(Array.from({ length: 20 }, (_, i) => login(withStreams.url, i % 2 ? 'alice' : 'bob', `10.4.0.${i + 1}`)));
    const cookies = sessions.map((s) => `${s.cookieName}=${s.cookieValue}`);
    const auth = { Authorization: `Bearer ${sessions[0]!.token}` };
    // Warm both up (JIT, caches) before the memory baseline.
    for (const target of [withStreams, without])
      await measure({ url: `${target.url}/api/me`, durationSeconds: 2, connections: options.connections, headers: auth });
    const rssBefore = await metric(withStreams.url, 'demo_process_resident_memory_bytes');
    const heapBefore = await metric(withStreams.url, 'demo_nodejs_heap_size_used_bytes');
    const opening = Date.now();
    streams = await openStreams(withStreams.url, cookies, options.streams);
    const openedInMs = Date.now() - opening;
    await new Promise((r) => setTimeout(r, 1000));
    const rssAfter = await metric(withStreams.url, 'demo_process_resident_memory_bytes');
    const heapAfter = await metric(withStreams.url, 'demo_nodejs_heap_size_used_bytes');
    const serverCount = await metric(withStreams.url, 'latchkey_event_streams');

    const samples: Record<'without streams' | 'with streams', ThroughputResult[]> = { 'without streams': [], 'with streams': [] };
    for (let round = 0; round < options.rounds; round++) {
      // A B, B A, ...: neither variant always runs first (the machine's drift within a round cancels out).
      const order = [
        ['without streams', without],
        ['with streams', withStreams],
      ] as const;
      for (const [name, target] of round % 2 ? [...order].reverse() : order) {
        samples[name].push(
          await measure({ url: `${target.url}/api/me`, durationSeconds: options.durationSeconds, connections: options.connections, headers: auth }),
        );
      }
    }
    const mean = (list: ThroughputResult[]) => ({
      requestsPerSecond: Math.round(avg(list.map((r) => r.requestsPerSecond))),
      p50Ms: round(avg(list.map((r) => r.p50Ms)), 2),
      p99Ms: round(avg(list.map((r) => r.p99Ms)), 2),
      non2xx: list.reduce((a, r) => a + r.non2xx, 0),
    });
    const off = mean(samples['without streams']);
    const on = mean(samples['with streams']);
    const ratio = round(on.requestsPerSecond / off.requestsPerSecond, 3);
    return {
      streams: options.streams,
      streamsOpenOnServer: serverCount,
      streamsStillOpenAtEnd: streams.open(),
      openedInMs,
      rssBytesPerStream: Math.round((rssAfter - rssBefore) / options.streams),
      heapBytesPerStream: Math.round((heapAfter - heapBefore) / options.streams),
      guardedRoute: { 'without streams': off, 'with streams': on },
      throughputRatio: ratio,
      targetRatio: 0.9,
      withinTarget: ratio >= 0.9,
    };
  } finally {
    streams?.close();
    await Promise.all([withStreams.stop(), without.stop()]);
  }
}

const DEMO = () => new URL('../../examples/demo/dist/server.js', import.meta.url).pathname;
