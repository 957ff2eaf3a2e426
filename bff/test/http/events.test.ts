import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { MemoryStore } from '../../src/store/memory.js';
import { TestClock } from '../helpers/test-clock.js';
import { call, login, refresh, startTestBff, type Device, type TestBff } from '../helpers/harness.js';
import { type RedisServer, startRedisServer } from '@latchkey/testkit';
import { listen, openEvents, type SseConnection } from '../helpers/sse.js';

const ended = (c: SseConnection) => c.events.filter((e) => e.event === 'session_ended').map((e) => JSON.parse(e.data));
const changes = (c: SseConnection) => c.events.filter((e) => e.event === 'devices_changed').map((e) => JSON.parse(e.data));

describe('GET /auth/events', () => {
  let t: TestBff;
  let server: Awaited<ReturnType<typeof listen>>;
  const open: SseConnection[] = [];
  const events = async (device: Device | null, headers: Record<string, string> = {}) => {
    const c = await openEvents(server.url, { ...(device ? { Cookie: device.cookie } : {}), ...headers });
    open.push(c);
    return c;
  };

  async function start(options: Parameters<typeof startTestBff>[0] = {}) {
    t = await startTestBff({ eventStreams: { heartbeatSeconds: 0.05, maxPerUser: 3, maxPerProcess: 5, retryMs: 1500 }, ...options });
    server = await listen(t.app);
  }

  beforeEach(() => start());
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await server.stop();
    await t.close();
  });

  it('streams with headers that stop buffering and caching, the retry delay first, then heartbeats', async () => {
    const device = await login(t.app);
    const c = await events(device);
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(c.headers['cache-control']).toContain('no-store');
    expect(c.headers['cache-control']).toContain('no-transform');
    expect(c.headers['x-accel-buffering']).toBe('no');
    await c.until(() => c.comments >= 2);
    expect(c.text().startsWith('retry: 1500\n\n')).toBe(true);
    expect(t.bff.eventStreams.size).toBe(1);
  });

  it('needs the session cookie (no X-CSRF needed): 401 without one, 401 for a forged one', async () => {
    const none = await events(null);
    expect(none.status).toBe(401);
    await none.until((c) => c.ended);
    expect(none.body()).toMatchObject({ error: 'no_session' });
    const forged = await events(null, { Cookie: 'latchkey=v1.x.0.y' });
    expect(forged.status).toBe(401);
  });

  it('refuses a foreign Origin (403 csrf_rejected) and accepts its own', async () => {
    const device = await login(t.app);
    const foreign = await events(device, { Origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    await foreign.until((c) => c.ended);
    expect(foreign.body()).toMatchObject({ error: 'csrf_rejected' });
    const own = await events(device, { Origin: server.url });
    expect(own.status).toBe(200);
  });

  it('a stream of an ended session is refused on connect (401), so it never waits for an event that already passed', async () => {
    const device = await login(t.app);
    await call(t.app, 'post', '/auth/logout', { cookie: device.cookie });
    const c = await events(device);
    expect(c.status).toBe(401);
  });

  it('logout: the device gets session_ended (logout) and its stream ends; the user’s other device gets devices_changed', async () => {
    const phone = await login(t.app, 'alice', 'phone');
    const laptop = await login(t.app, 'alice', 'laptop');
    const onPhone = await events(phone);
    const onLaptop = await events(laptop);
    await onLaptop.until((c) => c.comments > 0);
    await call(t.app, 'post', '/auth/logout', { cookie: phone.cookie });
    await onPhone.until((c) => c.ended);
    expect(ended(onPhone)).toEqual([{ sid: phone.sid, reason: 'logout' }]);
    await onLaptop.until((c) => changes(c).length > 0);
    expect(changes(onLaptop)).toEqual([{ sid: phone.sid, change: 'ended' }]);
    expect(ended(onLaptop)).toEqual([]);
    expect(t.bff.eventStreams.size).toBe(1);
  });

  it('a sign-in on another device is devices_changed (started) for the user, and nothing for another user', async () => {
    const laptop = await login(t.app, 'alice', 'laptop');
    const bob = await login(t.app, 'bob');
    const onLaptop = await events(laptop);
    const onBob = await events(bob);
    await onBob.until((c) => c.comments > 0);
    const phone = await login(t.app, 'alice', 'phone');
    await onLaptop.until((c) => changes(c).length > 0);
    expect(changes(onLaptop)).toEqual([{ sid: phone.sid, change: 'started' }]);
    await onBob.until((c) => c.comments > 3);
    expect(onBob.events).toEqual([]);
  });

  it('logout-all ends every stream of the user with logout_all; revoke-device with session_revoked; theft with reuse_detected', async () => {
    const a = await login(t.app, 'alice', 'a');
    const b = await login(t.app, 'alice', 'b');
    const onA = await events(a);
    const onB = await events(b);
    await call(t.app, 'post', '/auth/logout-all', { cookie: a.cookie });
    await Promise.all([onA.until((c) => c.ended), onB.until((c) => c.ended)]);
    expect(ended(onA)).toEqual([{ sid: a.sid, reason: 'logout_all' }]);
    expect(ended(onB)).toEqual([{ sid: b.sid, reason: 'logout_all' }]);

    const c = await login(t.app, 'alice', 'c');
    const d = await login(t.app, 'alice', 'd');
    const onD = await events(d);
    await call(t.app, 'delete', `/auth/sessions/${d.sid}`, { cookie: c.cookie });
    await onD.until((s) => s.ended);
    expect(ended(onD)).toEqual([{ sid: d.sid, reason: 'session_revoked' }]);

    const e = await login(t.app, 'alice', 'e');
    const stolen = { ...e };
    await refresh(t.app, e);
    const onE = await events(e);
    await refresh(t.app, e);
    await call(t.app, 'post', '/auth/refresh', { cookie: stolen.cookie });
    await onE.until((s) => s.ended);
    expect(ended(onE)).toEqual([{ sid: e.sid, reason: 'reuse_detected' }]);
  });

  it('caps streams per user (429 too_many_connections) and per process (503), each with Retry-After', async () => {
    const alice = await login(t.app);
    const bob = await login(t.app, 'bob');
    for (let i = 0; i < 3; i++) expect((await events(alice)).status).toBe(200);
    const fourth = await events(alice);
    expect(fourth.status).toBe(429);
    expect(fourth.headers['retry-after']).toBe('5');
    await fourth.until((c) => c.ended);
    expect(fourth.body()).toMatchObject({ error: 'too_many_connections' });
    for (let i = 0; i < 2; i++) expect((await events(bob)).status).toBe(200);
    const sixth = await events(bob);
    expect(sixth.status).toBe(503);
    expect(sixth.headers['retry-after']).toBe('5');
    await sixth.until((c) => c.ended);
    expect(sixth.body()).toMatchObject({ error: 'temporarily_unavailable' });
    // A closed stream frees its place.
    open[0]!.close();
    await expect.poll(() => t.bff.eventStreams.size).toBe(4);
    expect((await events(alice)).status).toBe(200);
  });

  it('caps streams per device too: one device cannot take the user’s whole cap (429, counted as device)', async () => {
    await t.close();
    await server.stop();
    await start({ eventStreams: { heartbeatSeconds: 0.05, maxPerUser: 4, maxPerDevice: 2, maxPerProcess: 10, retryMs: 1500 } });
    const phone = await login(t.app, 'alice', 'phone');
    const laptop = await login(t.app, 'alice', 'laptop');
    const tablet = await login(t.app, 'alice', 'tablet');
    for (let i = 0; i < 2; i++) expect((await events(phone)).status).toBe(200);
    const third = await events(phone);
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('5');
    await third.until((c) => c.ended);
    expect(third.body()).toEqual({ error: 'too_many_connections', message: 'Too many open event streams for this device. Try again later.' });
    // The user's other devices still have room, up to the user's cap.
    for (let i = 0; i < 2; i++) expect((await events(laptop)).status).toBe(200);
    expect((await events(tablet)).status).toBe(429);
    const refused = await t.bff.metrics.registry.getSingleMetricAsString('latchkey_event_streams_refused_total');
    expect(refused).toContain('latchkey_event_streams_refused_total{reason="device"} 1');
    expect(refused).toContain('latchkey_event_streams_refused_total{reason="user"} 1');
  });

  it('a client that leaves while its session is being checked is never registered (no leak)', async () => {
    const device = await login(t.app);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const getSession = t.store.getSession.bind(t.store);
    const checking = new Promise<void>((entered) => {
      t.store.getSession = async (key, now) => {
        entered();
        await gate;
        return getSession(key, now);
      };
    });
    // Explicit signals, no sleeps: the server's side of the connection closed; the handler reached its decision.
    const serverSide = new Promise<Socket>((resolve) => server.server.once('connection', resolve));
    const open = t.bff.eventStreams.open.bind(t.bff.eventStreams);
    const decided = new Promise<void>((resolve) => {
      t.bff.eventStreams.open = (...args) => {
        try {
          open(...args);
        } finally {
          resolve();
        }
      };
    });
    const { request } = await import('node:http');
    const req = request(`${server.url}/auth/events`, { headers: { Cookie: device.cookie } });
    req.on('error', () => undefined);
    req.end();
    const socket = await serverSide;
    await checking;
    const closed = new Promise((resolve) => socket.once('close', resolve));
    req.destroy();
    await closed;
    release();
    await decided;
    expect(t.bff.eventStreams.size).toBe(0);
  });

  it('bff.close() ends every stream with a reconnect hint (a jittered retry:, then a last reconnect event), and later connections are refused', async () => {
    const device = await login(t.app);
    const c = await events(device);
    const other = await events(await login(t.app, 'bob'));
    await c.until((s) => s.text().startsWith('retry: 1500\n\n'));
    const closed = t.bff.close();
    await c.until((s) => s.ended);
    await other.until((s) => s.ended);
    for (const stream of [c, other]) {
      const last = stream.events.at(-1)!;
      expect(last.event).toBe('reconnect');
      const { retryMs } = JSON.parse(last.data) as { retryMs: number };
      // The configured delay plus up to as much again, and the same value as the retry: field sent with it.
      expect(retryMs).toBeGreaterThanOrEqual(1500);
      expect(retryMs).toBeLessThan(3000);
      expect(stream.text()).toContain(`retry: ${retryMs}\nevent: reconnect\n`);
    }
    expect(t.bff.eventStreams.size).toBe(0);
    await closed;
    const later = await events(device);
    expect(later.status).toBe(503);
    expect(later.headers['retry-after']).toBe('5');
    const written = await t.bff.metrics.registry.getSingleMetricAsString('latchkey_stream_events_total');
    expect(written).toContain('latchkey_stream_events_total{event="reconnect"} 2');
  });
});

/**
 * A stream ends with its session: at the idle or absolute end, on the BFF's clock (a TestClock moved by hand, never a
 * sleep), checked before every event and on every heartbeat; activity that moves the idle end keeps it open.
 */
describe('GET /auth/events at the session’s end', () => {
  let t: TestBff;
  let clock: TestClock;
  let server: { url: string; stop(): Promise<void> };
  const open: SseConnection[] = [];
  const events = async (device: Device) => {
    const c = await openEvents(server.url, { Cookie: device.cookie });
    open.push(c);
    return c;
  };

  async function start(heartbeatSeconds: number) {
    clock = new TestClock();
    t = await startTestBff(
      {
        clock,
        session: { idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 150 },
        eventStreams: { heartbeatSeconds, maxPerUser: 5, maxPerProcess: 10, retryMs: 1500 },
      },
      new MemoryStore({ clock, warnInProduction: false }),
    );
    server = await listen(t.app);
  }

  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await server.stop();
    await t.close();
  });

  it('ends the stream at the idle end with session_expired (the heartbeat’s check)', async () => {
    await start(0.05);
    const device = await login(t.app);
    const c = await events(device);
    await c.until((s) => s.comments >= 1);
    clock.advance(60_000);
    await c.until((s) => s.ended);
    expect(ended(c)).toEqual([{ sid: device.sid, reason: 'session_expired' }]);
    expect(t.bff.eventStreams.size).toBe(0);
  });

  it('activity moves the idle end: a refreshed session’s stream stays open past the old end, and ends at the new one', async () => {
    await start(0.05);
    const device = await login(t.app);
    const c = await events(device);
    clock.advance(50_000);
    expect((await refresh(t.app, device)).status).toBe(200); // idle end: 50 s + 60 s
    clock.advance(20_000); // 70 s: past the first idle end
    // Heartbeats keep coming after the store said the session lives on (each beat checks the end first).
    const beats = c.comments;
    await c.until((s) => s.comments >= beats + 3);
    expect(c.ended).toBe(false);
    expect(c.events).toEqual([]);
    clock.advance(40_000); // 110 s: the new idle end
    await c.until((s) => s.ended);
    expect(ended(c)).toEqual([{ sid: device.sid, reason: 'session_expired' }]);
  });

  it('checks before every event: past the session’s end a stream gets session_ended, never devices_changed', async () => {
    await start(300); // no heartbeat within the test: only the event can notice
    const laptop = await login(t.app, 'alice', 'laptop');
    const onLaptop = await events(laptop);
    clock.advance(150_000); // the absolute end (the idle one too)
    const phone = await login(t.app, 'alice', 'phone'); // a devices_changed event for alice
    await onLaptop.until((s) => s.ended);
    expect(onLaptop.events.map((e) => e.event)).toEqual(['session_ended']);
    expect(ended(onLaptop)).toEqual([{ sid: laptop.sid, reason: 'session_expired' }]);
    // The live device's stream hears of the next sign-in.
    const onPhone = await events(phone);
    await login(t.app, 'alice', 'tablet');
    await onPhone.until((s) => changes(s).length > 0);
    expect(onPhone.ended).toBe(false);
  });
});

/** Two BFF instances on one real redis-server: a revocation on A reaches B's streams through the log B follows. */
describe('GET /auth/events across instances on a real Redis', () => {
  let redis: RedisServer;
  let a: TestBff;
  let b: TestBff;
  let bServer: { url: string; stop(): Promise<void> };
  const prefix = `events-${Date.now()}:`;

  beforeAll(async () => {
    redis = await startRedisServer();
    a = await startTestBff({}, await RedisStore.connect({ url: redis.url, prefix }));
    b = await startTestBff({}, await RedisStore.connect({ url: redis.url, prefix }));
    bServer = await listen(b.app);
  });
  afterAll(async () => {
    await bServer?.stop();
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it('a sign-in and a logout-all on A reach the streams on B (devices_changed, then session_ended)', async () => {
    const laptop = await login(a.app, 'alice', 'laptop');
    const onB = await openEvents(bServer.url, { Cookie: laptop.cookie });
    expect(onB.status).toBe(200);
    const phone = await login(a.app, 'alice', 'phone');
    await onB.until((c) => changes(c).some((e) => e.sid === phone.sid));
    expect(changes(onB)).toContainEqual({ sid: phone.sid, change: 'started' });
    await call(a.app, 'post', '/auth/logout-all', { cookie: phone.cookie });
    await onB.until((c) => c.ended);
    expect(ended(onB)).toEqual([{ sid: laptop.sid, reason: 'logout_all' }]);
  });

  it('a device revoked on A gets session_ended on B', async () => {
    const laptop = await login(a.app, 'bob', 'laptop');
    const phone = await login(a.app, 'bob', 'phone');
    const onB = await openEvents(bServer.url, { Cookie: phone.cookie });
    await call(a.app, 'delete', `/auth/sessions/${phone.sid}`, { cookie: laptop.cookie });
    await onB.until((c) => c.ended);
    expect(ended(onB)).toEqual([{ sid: phone.sid, reason: 'session_revoked' }]);
  });
});
