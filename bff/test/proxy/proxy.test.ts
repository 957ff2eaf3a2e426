import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '@latchkey/testkit';
import type { AuthenticatedUser, ProxyOptions } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import { call, login, rawSetCookie, sessionCookie, startTestBff, USERS, type TestBff, type TestBffOverrides } from '../helpers/harness.js';
import { TestClock } from '../helpers/test-clock.js';

/** What the upstream saw of each request. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

let t: TestBff;
let upstream: Server;
let upstreamUrl: string;
let seen: Seen[];

/** A real upstream API: `/v1/*` is the proxied prefix; `/secret` sits outside it and must never be reached. */
async function startUpstream(bff: TestBff['bff']): Promise<void> {
  seen = [];
  const app = express();
  app.use((req, _res, next) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    next();
  });
  app.get('/v1/me', bff.requireAuth(), (req, res) => void res.json({ sub: req.auth!.sub, sid: req.auth!.sid, scope: req.auth!.scope ?? null }));
  app.get('/v1/headers', (req, res) => void res.json({ headers: req.headers }));
  app.all('/v1/echo', (req, res) => {
    res.set('Content-Type', req.get('content-type') ?? 'application/octet-stream');
    req.pipe(res);
  });
  app.get('/v1/cookie', (_req, res) => void res.set('Set-Cookie', 'upstream=1; Path=/').set('X-Latchkey-Session', 'no_session').json({ ok: true }));
  app.get('/v1/denied', (_req, res) => void res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'invalid_token', message: 'upstream says no' }));
  app.get('/v1/forbidden', (_req, res) => void res.status(403).json({ error: 'insufficient_scope', message: 'upstream says no' }));
  app.get('/v1/slow', (_req, res) => void setTimeout(() => res.json({ late: true }), 1500));
  // Headers at once, the body (of unknown length) a while later: long polling, a slow report.
  app.get('/v1/later', (_req, res) => {
    res.set('Content-Type', 'text/plain').flushHeaders();
    setTimeout(() => res.end('done'), 400);
  });
  // Fails halfway through its body.
  app.get('/v1/broken', (_req, res) => {
    res.set({ 'Content-Type': 'text/plain', 'Content-Length': '1000' });
    res.write('half');
    setTimeout(() => res.destroy(), 50);
  });
  // Answers once the whole body has arrived.
  app.post('/v1/drain', (req, res) => {
    req.resume();
    req.on('end', () => void res.json({ drained: true }));
  });
  app.get('/v1/sse', (_req, res) => {
    res.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }).flushHeaders();
    res.write('data: one\n\n');
    setTimeout(() => res.end('data: two\n\n'), 100);
  });
  app.use(bff.errorHandler);
  // Any other path (app.use: the same on Express 4 and 5, whose wildcard syntaxes differ).
  app.use((req, res) => void res.status(404).json({ upstreamPath: req.path }));
  upstream = createServer(app);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
}

async function start(overrides: TestBffOverrides = {}, proxy: Partial<ProxyOptions> = {}, clock?: TestClock) {
  t = await startTestBff(
    {
      // alice holds the `orders` scope, bob does not.
      authenticate: async (username, password) => {
        const user = USERS[username];
        if (!user || user.password !== password) return null;
        return { id: user.id, name: user.name, ...(username === 'alice' ? { scope: ['orders'] } : {}) } as AuthenticatedUser;
      },
      ...(clock ? { clock } : {}),
      ...overrides,
    },
    new MemoryStore(clock ? { clock } : {}),
  );
  await startUpstream(t.bff);
  t.app.use('/p', t.bff.proxy({ target: `${upstreamUrl}/v1`, token: 'latchkey', ...proxy } as ProxyOptions));
}

afterEach(async () => {
  await t.close();
  await new Promise((resolve) => upstream.close(resolve));
});

const get = (path: string, cookie: string | null, headers: Record<string, string> = {}) => call(t.app, 'get', path, { cookie, headers });

/** A GET with the request target exactly as written (no client-side URL normalization), on a real socket. */
async function rawGet(path: string, cookie: string): Promise<{ status: number; body: string }> {
  const server = createServer(t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    return await new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'GET', path, headers: { Cookie: cookie, 'X-CSRF': '1' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.close();
  }
}

describe('bff.proxy: forwarding', () => {
  beforeEach(() => start());

  it('forwards a cookie-authenticated call with a Latchkey access token the upstream guard accepts; the page sees no token', async () => {
    const device = await login(t.app);
    const res = await get('/p/me', device.cookie);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sub: 'user-alice', sid: device.sid, scope: 'orders' });
    expect(res.text).not.toContain('eyJ');
    expect(rawSetCookie(res)).toBe('');
  });

  it('drops Cookie, X-CSRF, the browser’s Authorization and forged forwarding headers; sets X-Forwarded-*', async () => {
    const device = await login(t.app);
    const res = await get('/p/headers?x=1', device.cookie, {
      Authorization: 'Bearer forged',
      'X-Forwarded-For': '6.6.6.6',
      Forwarded: 'for=6.6.6.6',
      Connection: 'keep-alive, X-Drop-Me',
      'X-Drop-Me': 'secret',
      'X-Keep-Me': 'yes',
    });
    expect(res.status).toBe(200);
    const headers = res.body.headers as Record<string, string>;
    expect(headers.cookie).toBeUndefined();
    expect(headers['x-csrf']).toBeUndefined();
    expect(headers['x-drop-me']).toBeUndefined();
    expect(headers.forwarded).toBeUndefined();
    expect(headers['x-keep-me']).toBe('yes');
    expect(headers.authorization).toMatch(/^Bearer eyJ/);
    expect(headers['x-forwarded-for']).not.toContain('6.6.6.6');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(headers['x-forwarded-prefix']).toBe('/p');
    expect(seen.at(-1)!.url).toBe('/v1/headers?x=1');
  });

  it('signs once per session: parallel calls carry the same cached token', async () => {
    const device = await login(t.app);
    const answers = await Promise.all(Array.from({ length: 10 }, () => get('/p/headers', device.cookie)));
    const tokens = new Set(answers.map((a) => (a.body.headers as Record<string, string>).authorization));
    expect(tokens.size).toBe(1);
  });

  it('streams request and response bodies both ways', async () => {
    const device = await login(t.app);
    const body = 'x'.repeat(200_000);
    const res = await call(t.app, 'post', '/p/echo', { cookie: device.cookie, headers: { 'Content-Type': 'text/plain' } }).send(body);
    expect(res.status).toBe(200);
    expect(res.text).toBe(body);
  });

  it('passes server-sent events through as they come', async () => {
    const device = await login(t.app);
    const res = await get('/p/sse', device.cookie)
      .buffer(true)
      .parse((r, done) => {
        let text = '';
        r.on('data', (chunk: Buffer) => (text += chunk.toString()));
        r.on('end', () => done(null, text));
      });
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(res.body).toBe('data: one\n\ndata: two\n\n');
  });

  it('forwards the headers of an answer of unknown length at once, before its body', async () => {
    const device = await login(t.app);
    const server = createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const started = performance.now();
      const { headersAfterMs, body } = await new Promise<{ headersAfterMs: number; body: Promise<string> }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/p/later', headers: { Cookie: device.cookie, 'X-CSRF': '1' } }, (res) => {
          const headersAfterMs = performance.now() - started;
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          resolve({ headersAfterMs, body: new Promise((done) => res.on('end', () => done(text))) });
        });
        req.on('error', reject);
        req.end();
      });
      expect(headersAfterMs).toBeLessThan(300);
      expect(await body).toBe('done');
    } finally {
      server.close();
    }
  });

  it('an upstream that fails halfway through its body cuts the client’s answer short (never a complete-looking answer)', async () => {
    const device = await login(t.app);
    const server = createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const outcome = await new Promise<string>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/p/broken', headers: { Cookie: device.cookie, 'X-CSRF': '1' } }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve('complete'));
          res.on('aborted', () => resolve('cut short'));
          res.on('error', () => resolve('cut short'));
        });
        req.on('error', () => resolve('cut short'));
        req.end();
      });
      expect(outcome).toBe('cut short');
    } finally {
      server.close();
    }
  });

  it('drops the upstream’s Set-Cookie and any X-Latchkey-Session header it sends', async () => {
    const device = await login(t.app);
    const res = await get('/p/cookie', device.cookie);
    expect(res.status).toBe(200);
    expect(rawSetCookie(res)).toBe('');
    expect(res.headers['x-latchkey-session']).toBeUndefined();
  });

  it('passes the upstream’s 401 and 403 through and signs nobody out', async () => {
    const device = await login(t.app);
    const denied = await get('/p/denied', device.cookie);
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({ error: 'invalid_token', message: 'upstream says no' });
    expect(denied.headers['x-latchkey-session']).toBeUndefined();
    expect(rawSetCookie(denied)).toBe('');
    expect((await get('/p/forbidden', device.cookie)).status).toBe(403);
    expect((await get('/auth/session', device.cookie)).status).toBe(200);
  });
});

describe('bff.proxy: never an open proxy', () => {
  beforeEach(() => start());

  // Each must be refused (404 not_found) without the upstream seeing anything.
  const ESCAPES = [
    '/p/../secret',
    '/p/..%2fsecret',
    '/p/%2e%2e/secret',
    '/p/%2E%2E/secret',
    '/p/.%2e/secret',
    '/p/%2e./secret',
    '/p/a/%2e%2e/%2e%2e/secret',
    '/p/./me',
    '/p/%2e/me',
    '/p/a%2fb',
    '/p/a%2Fb',
    '/p/a%5cb',
    '/p/a\\..\\secret',
    '/p/..\\secret',
    '/p//evil.example/x',
    '/p/a//b',
    '/p/%252e%252e/secret',
    '/p/%00',
    '/p/a%0d%0aX-Injected:%201',
    '/p/%c0%ae%c0%ae/secret',
    '/p/%e0%80%ae',
  ];

  it.each(ESCAPES)('refuses %s', async (path) => {
    const device = await login(t.app);
    seen = [];
    const res = await rawGet(path, device.cookie);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: 'not_found', message: expect.any(String) });
    expect(seen).toEqual([]);
  });

  it('refuses absolute-form request targets naming another host', async () => {
    const device = await login(t.app);
    seen = [];
    for (const target of [`${upstreamUrl}/secret`, 'http://evil.example/p/me', 'http://evil.example/p/../secret']) {
      const res = await rawGet(target, device.cookie);
      expect(res.status).toBe(404);
    }
    expect(seen).toEqual([]);
  });

  it('keeps everything under the target prefix: the mount point itself and a query', async () => {
    const device = await login(t.app);
    seen = [];
    await get('/p/', device.cookie);
    await get('/p/x?a=..%2f', device.cookie);
    expect(seen.map((s) => s.url)).toEqual(['/v1', '/v1/x?a=..%2f']);
  });
});

describe('bff.proxy: errors', () => {
  it('answers 401 no_session without a cookie, marked as the BFF’s', async () => {
    await start();
    const res = await get('/p/me', null);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'no_session', message: expect.any(String) });
    expect(res.headers['x-latchkey-session']).toBe('no_session');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(seen).toEqual([]);
  });

  it('follows the cookie routes’ X-CSRF and Origin rules, and the method allow-list', async () => {
    await start({}, { methods: ['GET'] });
    const device = await login(t.app);
    expect((await call(t.app, 'get', '/p/me', { cookie: device.cookie, csrf: false })).body.error).toBe('csrf_rejected');
    expect((await get('/p/me', device.cookie, { Origin: 'https://evil.example' })).body.error).toBe('csrf_rejected');
    const post = await call(t.app, 'post', '/p/echo', { cookie: device.cookie, body: {} });
    expect(post.status).toBe(404);
    expect(seen).toEqual([]);
  });

  it('requires the proxy’s scopes of the session: 403 insufficient_scope', async () => {
    await start({}, { scopes: ['orders'] });
    const bob = await login(t.app, 'bob');
    const res = await get('/p/me', bob.cookie);
    expect(res.status).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
    expect((await get('/p/me', (await login(t.app, 'alice')).cookie)).status).toBe(200);
  });

  it('refuses a body over the limit before forwarding it (Content-Length), and a streamed one once it passes the limit', async () => {
    await start({}, { bodyLimitBytes: 1000 });
    const device = await login(t.app);
    seen = [];
    const declared = await call(t.app, 'post', '/p/echo', { cookie: device.cookie, headers: { 'Content-Type': 'text/plain' } }).send('x'.repeat(1001));
    expect(declared.status).toBe(413);
    expect(declared.body.error).toBe('payload_too_large');
    expect(seen).toEqual([]);
    const server = createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method: 'POST', path: '/p/echo', headers: { Cookie: device.cookie, 'X-CSRF': '1', 'Content-Type': 'text/plain' } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      // Chunked: no Content-Length, 4 KB in 4 chunks.
      for (let i = 0; i < 4; i++) req.write('y'.repeat(1024));
      req.end();
    });
    server.close();
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).error).toBe('payload_too_large');
  });

  it('answers 502 upstream_unavailable when the upstream is down, and signs nobody out', async () => {
    await start();
    const device = await login(t.app);
    const port = await freePort();
    t.app.use('/down', t.bff.proxy({ target: `http://127.0.0.1:${port}/v1`, token: 'latchkey' }));
    const res = await get('/down/me', device.cookie);
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'upstream_unavailable', message: expect.any(String) });
    expect(rawSetCookie(res)).toBe('');
    expect((await get('/p/me', device.cookie)).status).toBe(200);
    expect((await get('/p/me', null)).status).toBe(401);
    const metrics = await t.bff.metrics.registry.getSingleMetricAsString('latchkey_proxy_requests_total');
    expect(metrics).toContain('latchkey_proxy_requests_total{outcome="upstream_unavailable"} 1');
    expect(metrics).toContain('latchkey_proxy_requests_total{outcome="forwarded"} 1');
    expect(metrics).toContain('latchkey_proxy_requests_total{outcome="session_ended"} 1');
  });

  it.each([
    ['waiting for the upstream’s answer', 'GET', '/p/slow'],
    ['sending its request body', 'POST', '/p/drain'],
  ])('a client that disconnects while %s is counted as client_gone and logged at debug level, never as an error', async (_when, method, path) => {
    await start();
    const device = await login(t.app);
    const server = createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { Cookie: device.cookie, 'X-CSRF': '1', 'Transfer-Encoding': 'chunked' } });
      req.on('error', () => undefined);
      if (method === 'POST') req.write('partial body');
      else req.end();
      // Gone once the upstream has the request.
      await expect.poll(() => seen.length, { timeout: 3000, interval: 5 }).toBe(1);
      req.destroy();
      const metric = () => t.bff.metrics.registry.getSingleMetricAsString('latchkey_proxy_requests_total');
      await expect.poll(metric, { timeout: 3000, interval: 10 }).toContain('latchkey_proxy_requests_total{outcome="client_gone"} 1');
      expect(await metric()).not.toMatch(/outcome="(upstream_unavailable|error)"/);
    } finally {
      server.close();
    }
    const lines = t.logLines.map((line) => JSON.parse(line) as { level: number; event?: string });
    expect(lines.filter((line) => line.level >= 40)).toEqual([]);
    expect(lines.filter((line) => line.event === 'proxy_client_gone')).toEqual([expect.objectContaining({ level: 20 })]);
  });

  it('answers 504 upstream_timeout when the upstream is too slow', async () => {
    await start({}, { timeoutMs: 300 });
    const device = await login(t.app);
    const res = await get('/p/slow', device.cookie);
    expect(res.status).toBe(504);
    expect(res.body.error).toBe('upstream_timeout');
    expect((await get('/auth/session', device.cookie)).status).toBe(200);
  });

  it('answers 503 with Retry-After when the store cannot answer, and 502 (never the message) when a token function fails', async () => {
    await start({}, { token: () => Promise.reject(new Error('idp said: refresh_token=SECRET')) });
    const device = await login(t.app);
    const unseen = await login(t.app, 'alice', 'Other');
    const failed = await get('/p/me', device.cookie);
    expect(failed.status).toBe(502);
    expect(failed.text).not.toContain('SECRET');
    await t.store.close();
    // A cookie this process has not resolved in the last moments needs the store.
    const res = await get('/p/me', unseen.cookie);
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(res.headers['retry-after']).toBe('1');
    expect(rawSetCookie(res)).toBe('');
  });

  it('fails open when asked: a cookie resolved at most maxStalenessMs ago is still served while the store is down', async () => {
    const clock = new TestClock();
    await start({}, { onStoreUnavailable: 'open', maxStalenessMs: 60_000 }, clock);
    const seenBefore = await login(t.app);
    const neverSeen = await login(t.app, 'bob');
    expect((await get('/p/me', seenBefore.cookie)).status).toBe(200);
    await t.store.close();
    const open = await get('/p/me', seenBefore.cookie);
    expect(open.status).toBe(200);
    expect(open.body.sub).toBe('user-alice');
    const unknown = await get('/p/me', neverSeen.cookie);
    expect(unknown.status).toBe(503);
    expect(unknown.headers['retry-after']).toBe('1');
    clock.advance(60_001);
    expect((await get('/p/me', seenBefore.cookie)).status).toBe(503);
  });

  it('sends what a token function answers, and nothing for token: none', async () => {
    await start({}, { token: ({ sid }) => `custom-${sid}` });
    const device = await login(t.app);
    expect(((await get('/p/headers', device.cookie)).body.headers as Record<string, string>).authorization).toBe(`Bearer custom-${device.sid}`);
    t.app.use('/none', t.bff.proxy({ target: `${upstreamUrl}/v1`, token: 'none' }));
    expect(
      ((await get('/none/headers', device.cookie, { Authorization: 'Bearer forged' })).body.headers as Record<string, string>).authorization,
    ).toBeUndefined();
  });

  it('refuses invalid options with a readable error', async () => {
    await start();
    expect(() => t.bff.proxy({ target: 'ftp://x/y', token: 'latchkey' })).toThrow(/Invalid bff.proxy options: .*http/);
    expect(() => t.bff.proxy({ target: 'http://x/y?a=1', token: 'latchkey' })).toThrow(/no query/);
    expect(() => t.bff.proxy({ target: 'http://x/y', token: 'idp' as 'none' })).toThrow(/Invalid bff.proxy options/);
  });
});

describe('bff.proxy: revocation and rotation', () => {
  it('after logout-all on another device, the next proxied call fails with session_revoked', async () => {
    await start();
    const a = await login(t.app, 'alice', 'A');
    const b = await login(t.app, 'alice', 'B');
    expect((await get('/p/me', b.cookie)).status).toBe(200);
    expect((await call(t.app, 'post', '/auth/logout-all', { cookie: a.cookie })).status).toBe(204);
    const res = await get('/p/me', b.cookie);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('session_revoked');
    expect(res.headers['x-latchkey-session']).toBe('session_revoked');
    // The cookie is left for GET /auth/session, which says why and clears it.
    expect(rawSetCookie(res)).toBe('');
    const session = await get('/auth/session', b.cookie);
    expect(session.body.error).toBe('session_revoked');
    expect(rawSetCookie(session)).toMatch(/latchkey=;/);
  });

  it('a proxied call is activity, GET /auth/session is not: a page that only reads its session idles out, one that calls its API stays', async () => {
    const clock = new TestClock();
    await start({ session: { idleTimeoutSeconds: 600, proxyRotationSeconds: 60 } }, {}, clock);
    const reader = await login(t.app, 'alice', 'reader');
    const user = await login(t.app, 'alice', 'user');
    for (let minute = 2; minute <= 8; minute += 2) {
      clock.advance(2 * 60_000);
      const read = await get('/auth/session', reader.cookie);
      expect(read.status).toBe(200);
      reader.cookie = sessionCookie(read) ?? reader.cookie;
      const used = await get('/p/me', user.cookie);
      expect(used.status).toBe(200);
      user.cookie = sessionCookie(used) ?? user.cookie;
    }
    clock.advance(3 * 60_000);
    // 11 minutes after the sign-in, with a rotation every other minute: only the proxied calls moved the activity.
    const idle = await get('/auth/session', reader.cookie);
    expect(idle.status).toBe(401);
    expect(idle.body.error).toBe('session_expired');
    expect((await get('/auth/session', user.cookie)).status).toBe(200);
    expect((await get('/p/me', user.cookie)).status).toBe(200);
  });

  it('rotates the cookie on schedule in a proxied answer; 100 parallel calls across the rotation: no failure, no theft', async () => {
    const clock = new TestClock();
    await start({ session: { proxyRotationSeconds: 60 } }, {}, clock);
    const device = await login(t.app);
    clock.advance(60_000);
    const answers = await Promise.all(Array.from({ length: 100 }, () => get('/p/me', device.cookie)));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const successors = new Set(answers.map(sessionCookie).filter((c) => c !== null));
    expect(successors.size).toBe(1);
    const [next] = successors;
    expect(next).not.toBe(device.cookie);
    const rotated = answers.find((a) => sessionCookie(a) !== null)!;
    expect(rotated.headers['cache-control']).toBe('no-store');
    // The previous cookie within grace and the new one both work; after the grace only the new one.
    expect((await get('/p/me', device.cookie)).status).toBe(200);
    expect((await get('/p/me', next!)).status).toBe(200);
    const metrics = await t.bff.metrics.registry.getSingleMetricAsString('latchkey_theft_detections_total');
    expect(metrics).toMatch(/latchkey_theft_detections_total 0/);
    clock.advance(16_000);
    expect((await get('/p/me', next!)).status).toBe(200);
  });
});

describe('bff.proxy: step-up (RFC 9470)', () => {
  it('maxAuthAgeSeconds: past it, 401 insufficient_user_authentication (not a session end), nothing forwarded; re-authentication lets the call through', async () => {
    const clock = new TestClock();
    await start({ tokens: { browser: false } }, { maxAuthAgeSeconds: 60 }, clock);
    const res0 = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: USERS.alice!.password } });
    let cookie = sessionCookie(res0);
    expect((await get('/p/me', cookie)).status).toBe(200);
    clock.advance(61_000);
    const before = seen.length;
    const refused = await get('/p/me', cookie);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'insufficient_user_authentication', message: 'A more recent authentication is required.' });
    expect(refused.headers['www-authenticate']).toMatch(/max_age=60/);
    expect(refused.headers['x-latchkey-session']).toBeUndefined();
    expect(seen.length).toBe(before);
    const reauth = await call(t.app, 'post', '/auth/reauthenticate', { cookie, body: { password: USERS.alice!.password } });
    expect(reauth.status).toBe(200);
    const previous = cookie;
    cookie = sessionCookie(reauth);
    expect((await get('/p/me', cookie)).status).toBe(200);
    // A call still carrying the cookie from before (another tab, within the grace window): the session it was
    // remembered with predates the re-authentication, the store's does not.
    expect((await get('/p/me', previous)).status).toBe(200);
  });

  it('refuses invalid step-up options', async () => {
    await start();
    expect(() => t.bff.proxy({ target: `${upstreamUrl}/v1`, token: 'latchkey', maxAuthAgeSeconds: -1 })).toThrow(/maxAuthAgeSeconds/);
    expect(() => t.bff.proxy({ target: `${upstreamUrl}/v1`, token: 'latchkey', acrValues: [] })).toThrow(/acrValues/);
  });
});

describe('bff.proxy: the session settings it needs', () => {
  it('is refused at mount time when the idle timeout is not longer than the proxy rotation (proxied use could never keep a session alive)', async () => {
    const t = await startTestBff({ session: { idleTimeoutSeconds: 120, proxyRotationSeconds: 120 } });
    try {
      expect(() => t.bff.proxy({ target: 'http://127.0.0.1:1/v1', token: 'none' })).toThrow(
        'Invalid bff.proxy options: the BFF needs session.proxyRotationSeconds less than session.idleTimeoutSeconds',
      );
      expect(() => t.bff.proxy({ target: 'http://127.0.0.1:1/v1', token: 'none' })).toThrow(TypeError);
    } finally {
      await t.close();
    }
  });
});
