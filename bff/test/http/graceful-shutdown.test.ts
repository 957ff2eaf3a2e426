import { Agent, request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { call, login, me, startTestBff, USERS, type TestBff } from '../helpers/harness.js';
import { listen } from '../helpers/sse.js';

/** A promise the test resolves by hand: a request held in flight until then. */
function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

const settledWithin = async (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);

/** GET over a real socket (keep-alive when `agent` keeps them): status and body, or the socket error's code. */
function get(url: string, agent?: Agent): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, agent ? { agent } : {}, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end();
  });
}

describe('bff.close(): graceful shutdown', () => {
  let t: TestBff;
  let stopServer: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stopServer?.();
    stopServer = undefined;
    await t?.close();
  });

  /** A BFF whose password check waits for `held` when the username is `slow`: a login held in flight. */
  async function startWithHeldLogin(held: Promise<void>, store = new MemoryStore()) {
    t = await startTestBff(
      {
        authenticate: async (username, password) => {
          if (username === 'slow') {
            await held;
            username = 'alice';
          }
          const user = USERS[username];
          return user && user.password === password ? { id: user.id, name: user.name } : null;
        },
      },
      store,
    );
  }

  it('lets a BFF request in flight finish, keeps the guard deciding meanwhile, then stops; the store stays open (the app owns it)', async () => {
    const held = gate();
    await startWithHeldLogin(held.wait);
    const device = await login(t.app);
    const inFlight = call(t.app, 'post', '/auth/login', { body: { username: 'slow', password: 'wonderland' } }).then((r) => r);
    // Let the login reach authenticate before closing.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closed = t.bff.close();
    expect(await settledWithin(closed, 300)).toBe(false);
    // Past the guard's staleness bound (~1 s): the revocation feed is still followed while requests drain.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect((await me(t.app, device.token)).status).toBe(200);
    held.open();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.body.accessToken).toEqual(expect.any(String));
    expect(await settledWithin(closed, 2000)).toBe(true);
    // Stopped now: the guard no longer follows the log, so it fails closed.
    await expect.poll(async () => (await me(t.app, device.token)).status, { timeout: 3000, interval: 100 }).toBe(503);
    // The store was not closed: the application may still use it.
    await expect(t.store.getKeyRing()).resolves.not.toBeNull();
    expect(t.logLines.some((line) => line.includes('"event":"shutdown_started"'))).toBe(true);
  });

  it('with the server: stops accepting connections at once, lets the app’s request in flight finish, closes kept-alive connections', async () => {
    t = await startTestBff();
    const held = gate();
    t.app.get('/slow', async (_req, res) => {
      await held.wait;
      res.json({ done: true });
    });
    const server = await listen(t.app);
    stopServer = server.stop;
    const agent = new Agent({ keepAlive: true });
    try {
      const inFlight = get(`${server.url}/slow`, agent);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closed = t.bff.close({ server: server.server, timeoutMs: 10_000 });
      // New connections are refused: a load balancer sends them to another instance.
      expect(await get(`${server.url}/auth/healthz`)).toEqual({ error: 'ECONNREFUSED' });
      expect(await settledWithin(closed, 300)).toBe(false);
      held.open();
      expect(await inFlight).toEqual({ status: 200, body: '{"done":true}' });
      // The kept-alive connection is closed once idle: no wait for the keep-alive timeout (5 s).
      const started = Date.now();
      await closed;
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      agent.destroy();
    }
  });

  it('cuts what is still in flight at timeoutMs, and says so in the log', async () => {
    t = await startTestBff();
    t.app.get('/never', () => undefined);
    const server = await listen(t.app);
    stopServer = server.stop;
    const stuck = get(`${server.url}/never`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await t.bff.close({ server: server.server, timeoutMs: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await stuck).toEqual({ error: 'ECONNRESET' });
    expect(t.logLines.some((line) => line.includes('"event":"shutdown_deadline"'))).toBe(true);
  });

  it('closes the store only when asked (closeStore: true), after the requests are done', async () => {
    let closes = 0;
    class CountingStore extends MemoryStore {
      override async close() {
        closes++;
        return super.close();
      }
    }
    const held = gate();
    await startWithHeldLogin(held.wait, new CountingStore());
    const inFlight = call(t.app, 'post', '/auth/login', { body: { username: 'slow', password: 'wonderland' } }).then((r) => r);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closed = t.bff.close({ closeStore: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closes).toBe(0);
    held.open();
    expect((await inFlight).status).toBe(200);
    await closed;
    expect(closes).toBe(1);
    // A second call is the same shutdown, not a second one.
    expect(t.bff.close({ closeStore: true })).toBe(closed);
  });

  it('refuses bad options with a TypeError before closing anything', async () => {
    t = await startTestBff();
    expect(() => t.bff.close({ timeoutMs: -1 })).toThrow(/Invalid bff.close\(\) options: timeoutMs/);
    expect(() => t.bff.close({ server: {} as never })).toThrow(/server must be a Node HTTP server/);
    expect(() => t.bff.close({ closeStores: true } as never)).toThrow(/unknown option closeStores/);
    // Nothing was closed: still ready.
    expect((await call(t.app, 'get', '/auth/readyz')).status).toBe(200);
  });
});
