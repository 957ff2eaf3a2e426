/**
 * WebSocket upgrades through `bff.proxy` (docs/proxy.md, "WebSockets"): a real upstream WebSocket server (`ws`), the
 * BFF on a real HTTP server with `bff.upgrades`, and `ws` as the browser.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type RedisServer } from '@latchkey/testkit';
import type { ProxyOptions } from '../../src/index.js';
import { RedisStore } from '../../src/store/redis.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { SessionStore } from '../../src/store/types.js';
import { closeFrame, FrameBoundaries } from '../../src/routes/proxy-sockets.js';
import { call, login, startTestBff, type TestBff } from '../helpers/harness.js';

interface Upstream {
  url: string;
  /** The headers of every upgrade the upstream got. */
  upgrades: IncomingHttpHeaders[];
  urls: string[];
  close(): Promise<void>;
}

/** The upstream: `/v1/echo` echoes, `/v1/deny` refuses the upgrade with 401; it reports the subject of the token it got. */
async function startUpstream(t: TestBff): Promise<Upstream> {
  const wss = new WebSocketServer({ noServer: true });
  const upgrades: IncomingHttpHeaders[] = [];
  const urls: string[] = [];
  const server = createServer((_req, res) => void res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    upgrades.push(req.headers);
    urls.push(req.url ?? '');
    if (req.url?.startsWith('/v1/deny')) {
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nSet-Cookie: up=1\r\nX-Latchkey-Session: no_session\r\n\r\n{"error":"invalid_token"}',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      void (async () => {
        const claims = await t.bff.guard.verify((req.headers.authorization ?? '').replace(/^Bearer /, ''));
        ws.send(JSON.stringify({ hello: typeof claims === 'object' ? claims.sub : claims, url: req.url }));
        ws.on('message', (data) => ws.send(`echo:${String(data)}`));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    upgrades,
    urls,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Stack {
  t: TestBff;
  upstream: Upstream;
  server: Server;
  /** `http://127.0.0.1:<port>`: the BFF's own origin, its default allow-list. */
  origin: string;
}

const stacks: Stack[] = [];
let redis: RedisServer | undefined;

async function start(proxy: Partial<ProxyOptions> = {}, store?: SessionStore, upstreamUrl?: string): Promise<Stack> {
  const t = await startTestBff({}, store ?? new MemoryStore());
  const upstream = await startUpstream(t);
  const ws = t.bff.proxy({ target: `${upstreamUrl ?? upstream.url}/v1`, token: 'latchkey', webSocket: true, ...proxy } as ProxyOptions);
  t.app.use('/ws', ws);
  const server = createServer(t.app);
  server.on('upgrade', t.bff.upgrades({ '/ws': ws }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const stack = { t, upstream, server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  stacks.push(stack);
  return stack;
}

afterEach(async () => {
  for (const s of stacks.splice(0)) {
    s.server.closeAllConnections();
    await new Promise((resolve) => s.server.close(resolve));
    await s.t.close();
    await s.upstream.close();
  }
  await redis?.stop();
  redis = undefined;
});

/** A browser's WebSocket: the cookie and the page's Origin (unless `origin` is null). */
function connect(s: Stack, path: string, cookie: string | null, origin: string | null = s.origin): WebSocket {
  const headers: Record<string, string> = cookie ? { Cookie: cookie } : {};
  return new WebSocket(`${s.origin.replace('http', 'ws')}${path}`, { headers, ...(origin === null ? {} : { origin }) });
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(String(data)));
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
}

/** The HTTP answer of a refused upgrade: status, body, headers. */
function refused(ws: WebSocket): Promise<{ status: number; body: Record<string, unknown>; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was not refused')));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers }));
    });
    ws.once('error', () => undefined);
  });
}

describe('bff.proxy: WebSocket upgrades', () => {
  it('forwards the upgrade with the token attached server-side; messages flow both ways', async () => {
    const s = await start();
    const device = await login(s.t.app);
    const ws = connect(s, '/ws/echo?room=1', device.cookie);
    const upgradeAnswer = new Promise<IncomingHttpHeaders>((resolve) => ws.once('upgrade', (res) => resolve(res.headers)));
    expect(JSON.parse(await nextMessage(ws))).toEqual({ hello: 'user-alice', url: '/v1/echo?room=1' });
    ws.send('ping');
    expect(await nextMessage(ws)).toBe('echo:ping');
    const seen = s.upstream.upgrades[0]!;
    expect(seen.cookie).toBeUndefined();
    expect(seen.authorization).toMatch(/^Bearer eyJ/);
    expect(seen['x-forwarded-prefix']).toBe('/ws');
    expect(seen.origin).toBe(s.origin);
    expect((await upgradeAnswer)['set-cookie']).toBeUndefined();
    expect(await s.t.bff.metrics.registry.getSingleMetricAsString('latchkey_proxy_requests_total')).toMatch(/outcome="forwarded"} 1/);
    ws.close();
  });

  it('refuses before anything is forwarded: a missing or foreign Origin, no session, a path escape, a proxy without webSocket', async () => {
    const s = await start();
    const device = await login(s.t.app);
    const missing = await refused(connect(s, '/ws/echo', device.cookie, null));
    expect(missing.status).toBe(403);
    expect(missing.body).toEqual({ error: 'csrf_rejected', message: 'A WebSocket needs an Origin header.' });
    const foreign = await refused(connect(s, '/ws/echo', device.cookie, 'http://127.0.0.1:1'));
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toBe('csrf_rejected');
    const anonymous = await refused(connect(s, '/ws/echo', null));
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('no_session');
    expect(anonymous.headers['x-latchkey-session']).toBe('no_session');
    for (const path of ['/ws/..%2fsecret', '/ws/%2e%2e/secret', '/ws//evil.example/x', '/ws/a/../../secret']) {
      expect((await refused(connect(s, path, device.cookie))).status, path).toBe(404);
    }
    expect((await refused(connect(s, '/elsewhere', device.cookie))).status).toBe(404);
    expect(s.upstream.upgrades).toEqual([]);
    expect(s.t.logLines.join('\n')).not.toContain(device.cookie.split('=')[1]);

    const plain = await start({ webSocket: false });
    const other = await login(plain.t.app);
    expect((await refused(connect(plain, '/ws/echo', other.cookie))).status).toBe(404);
    expect(plain.upstream.upgrades).toEqual([]);
  });

  it('requires the proxy’s scopes: 403 insufficient_scope', async () => {
    const s = await start({ scopes: ['orders'] });
    const device = await login(s.t.app);
    const answer = await refused(connect(s, '/ws/echo', device.cookie));
    expect(answer.status).toBe(403);
    expect(answer.body.error).toBe('insufficient_scope');
    expect(s.upstream.upgrades).toEqual([]);
  });

  it('passes the upstream’s refusal through (no Set-Cookie, no forged session marker), and answers 502 when it is down', async () => {
    const s = await start();
    const device = await login(s.t.app);
    const denied = await refused(connect(s, '/ws/deny', device.cookie));
    expect(denied.status).toBe(401);
    expect(denied.body).toEqual({ error: 'invalid_token' });
    expect(denied.headers['set-cookie']).toBeUndefined();
    expect(denied.headers['x-latchkey-session']).toBeUndefined();
    // Nobody was signed out.
    expect((await call(s.t.app, 'get', '/auth/session', { cookie: device.cookie })).status).toBe(200);

    const down = await start({}, undefined, `http://127.0.0.1:${await freePort()}`);
    const other = await login(down.t.app);
    const answer = await refused(connect(down, '/ws/echo', other.cookie));
    expect(answer.status).toBe(502);
    expect(answer.body.error).toBe('upstream_unavailable');
  });

  it('closes an open socket with 4401 when its session is revoked (logout-all from another device), and 1001 on shutdown', async () => {
    const s = await start();
    const a = await login(s.t.app, 'alice', 'A');
    const b = await login(s.t.app, 'alice', 'B');
    const ws = connect(s, '/ws/echo', b.cookie);
    await nextMessage(ws);
    const end = closed(ws);
    expect((await call(s.t.app, 'post', '/auth/logout-all', { cookie: a.cookie })).status).toBe(204);
    expect(await end).toEqual({ code: 4401, reason: 'session_revoked' });

    const c = await login(s.t.app, 'bob');
    const other = connect(s, '/ws/echo', c.cookie);
    await nextMessage(other);
    const gone = closed(other);
    await s.t.bff.close();
    expect((await gone).code).toBe(1001);
  });

  it('closes the socket on another instance: logout-all on A ends B’s socket (two BFFs, one Redis)', async () => {
    redis = await startRedisServer();
    const a = await start({}, await RedisStore.connect({ url: redis.url }));
    const b = await start({}, await RedisStore.connect({ url: redis.url }));
    const onA = await login(a.t.app, 'alice', 'A');
    const onB = await login(b.t.app, 'alice', 'B');
    const ws = connect(b, '/ws/echo', onB.cookie);
    await nextMessage(ws);
    const end = closed(ws);
    const t0 = performance.now();
    expect((await call(a.t.app, 'post', '/auth/logout-all', { cookie: onA.cookie })).status).toBe(204);
    expect(await end).toEqual({ code: 4401, reason: 'session_revoked' });
    expect(performance.now() - t0).toBeLessThan(2000);
    // A new upgrade with the ended session is refused.
    expect((await refused(connect(b, '/ws/echo', onB.cookie))).body.error).toBe('session_revoked');
  });
});

describe('FrameBoundaries: the close frame never lands inside a frame', () => {
  /** An unmasked binary frame with a payload of `size` bytes (16-bit length past 125). */
  const frame = (size: number, fill: number) => {
    const header = size < 126 ? Buffer.from([0x82, size]) : Buffer.from([0x82, 126, size >> 8, size & 0xff]);
    return Buffer.concat([header, Buffer.alloc(size, fill)]);
  };

  it('waits for the frame under way to end, drops what follows, then sends the close frame and ends', async () => {
    const frames = new FrameBoundaries();
    const out = new PassThrough();
    frames.pipe(out);
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((resolve) => out.on('end', resolve));
    const big = frame(1000, 7);
    const next = frame(10, 9);
    // The first chunk splits the big frame's header from the rest of it.
    frames.write(big.subarray(0, 3));
    frames.write(big.subarray(3, 500));
    frames.closeWith(closeFrame(4401, 'session_revoked'));
    frames.write(Buffer.concat([big.subarray(500), next]));
    await ended;
    const sent = Buffer.concat(chunks);
    expect(sent.subarray(0, big.length).equals(big)).toBe(true);
    expect(sent.subarray(big.length).equals(closeFrame(4401, 'session_revoked'))).toBe(true);
  });

  it('between frames, closes at once', async () => {
    const frames = new FrameBoundaries();
    const chunks: Buffer[] = [];
    frames.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((resolve) => frames.on('end', resolve));
    frames.write(frame(5, 1));
    await new Promise((resolve) => setImmediate(resolve));
    frames.closeWith(closeFrame(1001, 'bye'));
    await ended;
    expect(Buffer.concat(chunks).equals(Buffer.concat([frame(5, 1), closeFrame(1001, 'bye')]))).toBe(true);
  });
});
