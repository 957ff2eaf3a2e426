import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { type RedisServer, startRedisServer } from '@latchkey/testkit';
import { expireRedisKeysBy, TestClock } from '../helpers/test-clock.js';
import { newSession, revocationState, runStoreContract } from './contract.js';

let server: RedisServer;
/** A plain client for looking at what the store wrote. */
let inspector: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  inspector = new Redis(server.url, { lazyConnect: true });
  await inspector.connect();
});

afterAll(async () => {
  await inspector?.quit();
  await server?.stop();
});

/** Each test gets its own key prefix on the shared server, so nothing leaks between tests. */
const freshPrefix = () => `lkt:${randomUUID()}:`;

/** Redis's clock keeps running, so the tests' clock does too; letting time pass shortens this store's key TTLs. */
async function contractFixture(shards?: number) {
  const prefix = freshPrefix();
  const store = await RedisStore.connect({ url: server.url, prefix, ...(shards === undefined ? {} : { shards }) });
  return { store, clock: TestClock.running(), expireBy: (ms: number) => expireRedisKeysBy(inspector, prefix, ms), teardown: () => store.close() };
}

runStoreContract('RedisStore', () => contractFixture());

// Several shards on one node: the layout a Cluster uses, followed with one XREAD BLOCK over every shard's log.
runStoreContract('RedisStore, 4 shards on one node', () => contractFixture(4));

describe('RedisStore', () => {
  const opened: RedisStore[] = [];
  const open = async (prefix = freshPrefix()) => {
    const store = await RedisStore.connect({ url: server.url, prefix, commandTimeoutMs: 1000 });
    opened.push(store);
    return store;
  };

  afterEach(async () => {
    server.resume();
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it('rejects invalid options', () => {
    expect(() => new RedisStore({})).toThrow(/exactly one of client, url and clusterNodes/);
    expect(() => new RedisStore({ url: 'http://localhost' })).toThrow(/redis:\/\//);
    expect(() => new RedisStore({ url: server.url, prefix: '{x}' })).toThrow(/prefix/);
    expect(() => new RedisStore({ url: server.url, commandTimeoutMs: 0 })).toThrow(/commandTimeoutMs/);
    expect(() => new RedisStore({ url: server.url, bogus: 1 } as never)).toThrow(/bogus/);
    expect(() => new RedisStore({ url: server.url, waitForReplicas: { replicas: 1, timeoutMs: 1000 } })).toThrow(/shorter than commandTimeoutMs/);
    expect(() => new RedisStore({ url: server.url, waitForReplicas: { replicas: 0, timeoutMs: 100 } })).toThrow(/replicas/);
  });

  it('fails with StoreUnavailableError while Redis is paused, and recovers after resume', async () => {
    const store = await open();
    const s = newSession(`user-${randomUUID()}`);
    await store.createSession(s);

    server.pause();
    const failure = await store.getSession(s.key, Date.now()).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect((failure as StoreUnavailableError).cause).toBeInstanceOf(Error);

    server.resume();
    expect(await store.getSession(s.key, Date.now())).toEqual(s);
    expect(await revocationState(store, 'jti', s.sid, s.userId)).toMatchObject({ sidRevoked: false });
  }, 15_000);

  it('a blocking read after a pause is not queued behind the reads that gave up during it', async () => {
    const store = await open();
    const { position } = await store.readRevocations(null, { blockMs: 0, count: 10 });
    server.pause();
    // Each gives up after its wait + the 1 s deadline, while its XREAD BLOCK 2000 stays in the socket of a paused Redis.
    for (let i = 0; i < 2; i++) {
      await expect(store.readRevocations(position, { blockMs: 2000, count: 10 })).rejects.toBeInstanceOf(StoreUnavailableError);
    }
    server.resume();
    // Behind those two it could answer only after 4 s, long past its own deadline (1.05 s): it must get a connection of its own.
    expect(await store.readRevocations(position, { blockMs: 50, count: 10 })).toMatchObject({ events: [] });
  }, 20_000);

  it('fails with StoreUnavailableError when no server listens', async () => {
    await expect(RedisStore.connect({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 300 })).rejects.toBeInstanceOf(StoreUnavailableError);
    const store = new RedisStore({ url: 'redis://127.0.0.1:1' });
    opened.push(store);
    await expect(store.getKeyRing()).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('recovers by itself when a crashed Redis comes back (scripts reloaded, data kept with persistence)', async () => {
    const durable = await startRedisServer({ persistence: true });
    const store = await RedisStore.connect({ url: durable.url, prefix: freshPrefix() });
    opened.push(store);
    try {
      const s = newSession(`user-${randomUUID()}`);
      await store.createSession(s);

      await durable.kill();
      await expect(store.getSession(s.key, Date.now())).rejects.toBeInstanceOf(StoreUnavailableError);

      await durable.restart();
      const deadline = Date.now() + 10_000;
      let answer: unknown = null;
      while (Date.now() < deadline) {
        answer = await store.listUserSessions(s.userId, Date.now()).catch((error: unknown) => error);
        if (!(answer instanceof StoreUnavailableError)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(answer).toEqual([s]);
    } finally {
      await store.close();
      await durable.stop();
    }
  }, 20_000);

  it('while Redis is down it retries the connection at least every 200 ms (each retry delay is 503s after Redis is back)', async () => {
    const durable = await startRedisServer({ persistence: true });
    const store = await RedisStore.connect({ url: durable.url, prefix: freshPrefix() });
    opened.push(store);
    try {
      // The delays ioredis schedules come from the store's retry strategy: no clock is involved in this check.
      const delays: number[] = [];
      (store as unknown as { client: Redis }).client.on('reconnecting', (delay: number) => void delays.push(delay));
      await durable.kill();
      await expect.poll(() => delays.length, { timeout: 15_000, interval: 50 }).toBeGreaterThanOrEqual(8);
      expect(Math.max(...delays)).toBeLessThanOrEqual(200);
    } finally {
      await store.close();
      await durable.stop();
    }
  }, 30_000);

  it('a rotation that reaches a paused Redis late still leaves the client its grace window (no false theft)', async () => {
    const store = await open();
    const s = newSession(`user-${randomUUID()}`);
    await store.createSession(s);
    const graceMs = 300;
    const rotation = {
      key: s.key,
      generation: 0,
      credentialHash: s.credentialHash,
      nextCredentialHash: 'next',
      nextSealed: 'sealed-next',
      // The BFF read its clock this long before Redis gets to run the script: past `now + graceMs` already.
      now: Date.now() - (graceMs + 500),
      activityAt: Date.now() - (graceMs + 500),
      idleTimeoutMs: 60_000,
      graceMs,
      markerTtlMs: 60_000,
    };
    server.pause();
    // The caller gives up after 1 s (503 to the browser, which keeps its cookie); the script waits in the socket.
    await expect(store.rotate(rotation)).rejects.toBeInstanceOf(StoreUnavailableError);
    server.resume();
    // Redis runs the buffered rotation now, past `now + graceMs` on its clock. The browser retries with the cookie it kept.
    await expect.poll(async () => (await store.getSession(s.key, Date.now()))?.generation, { timeout: 3000, interval: 20 }).toBe(1);
    const retry = await store.rotate({ ...rotation, nextCredentialHash: 'other', nextSealed: 'sealed-other', now: Date.now() });
    expect(retry).toMatchObject({ outcome: 'replayed', sealed: 'sealed-next' });
  });

  it('works on a client the caller owns, and leaves it open on close', async () => {
    const client = new Redis(server.url, { lazyConnect: true });
    const store = new RedisStore({ client, prefix: freshPrefix() });
    await store.ready();
    expect(await store.putKeyRing(null, { version: 'v1', sealed: 'ring' })).toBe(true);
    await store.close();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });

  it('gives every key it writes a TTL (except the key ring, which must outlive any one session)', async () => {
    const prefix = freshPrefix();
    const store = await open(prefix);
    const now = Date.now();
    const user = `user-${randomUUID()}`;
    const [a, b, c] = [
      newSession(user, { createdAt: now, lastActivityAt: now }),
      newSession(user, { createdAt: now + 1, lastActivityAt: now + 1 }),
      newSession(user, { createdAt: now + 2, lastActivityAt: now + 2 }),
    ];
    for (const s of [a, b, c]) await store.createSession(s);

    const rotated = await store.rotate({
      key: a.key,
      generation: 0,
      credentialHash: a.credentialHash,
      nextCredentialHash: 'next',
      nextSealed: 'sealed-next',
      now,
      activityAt: now,
      idleTimeoutMs: 60_000,
      graceMs: 0,
      markerTtlMs: 60_000,
    });
    expect(rotated.outcome).toBe('rotated');
    await store.endUserSessionBySid(user, b.sid, 'device_revoked', now, 60_000); // revoke one device
    await store.rotate({
      key: a.key,
      generation: 0,
      credentialHash: a.credentialHash,
      nextCredentialHash: 'again',
      nextSealed: 'sealed-again',
      now: now + 1,
      activityAt: now + 1,
      idleTimeoutMs: 60_000,
      graceMs: 0,
      markerTtlMs: 60_000,
    }); // reuse after grace: theft
    await store.endAllUserSessions(user, 'logout_all', now, now, 60_000); // logout everywhere
    await store.createSession(newSession('user-other', { createdAt: now, lastActivityAt: now }));
    await store.revokeAllSessions(now, now, 60_000); // incident: every session, the global marker
    await store.createSession(newSession(user, { createdAt: now, lastActivityAt: now })); // a fresh login afterwards
    await store.endSession(c.key, 'logout', now, 60_000);
    await store.revokeJti('jti-1', 60_000);
    await store.putKeyRing(null, { version: 'v1', sealed: 'ring' });
    await store.createRateLimitCounter({ name: 'login', points: 5, windowMs: 60_000 }).add('127.0.0.1', 1);

    const keys = await inspector.keys(`${prefix}*`);
    const ttls = Object.fromEntries(await Promise.all(keys.map(async (k) => [k.slice(prefix.length), await inspector.pttl(k)] as const)));
    const persistent = Object.entries(ttls)
      .filter(([, ttl]) => ttl === -1)
      .map(([k]) => k)
      .sort();

    expect(persistent).toEqual(['{0}kr:sealed', '{0}kr:version']);
    // Every kind of key was written (sessions, indexes, tombstones, user and global markers, log, key ring, rate limit).
    expect(new Set(Object.keys(ttls).map((k) => k.replace(/^\{0\}/, '').replace(/:.*$/, '')))).toEqual(
      new Set(['s', 'sid', 'u', 'al', 'ts', 'ru', 'ra', 'rv', 'kr', 'rl']),
    );
  });

  it('shares a rate-limit counter across stores on the same Redis; counts atomically, gives back, refuses over the limit', async () => {
    const prefix = freshPrefix();
    const [one, two] = [await open(prefix), await open(prefix)];
    const options = { name: 'login', points: 3, windowMs: 60_000 };
    const counters = [one.createRateLimitCounter(options), two.createRateLimitCounter(options)];

    await counters[0]!.add('ip', 1);
    expect(await counters[1]!.add('ip', 1)).toMatchObject({ allowed: true, consumed: 2 });
    expect(await counters[1]!.add('ip', -1)).toMatchObject({ consumed: 1 });
    const concurrent = await Promise.all(Array.from({ length: 10 }, (_, i) => counters[i % 2]!.add('ip', 1)));
    expect(concurrent.filter((c) => c.allowed)).toHaveLength(2);
    expect(concurrent.map((c) => c.consumed).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const refused = concurrent.find((c) => !c.allowed)!;
    expect(refused.msBeforeNext).toBeGreaterThan(0);
    expect(refused.msBeforeNext).toBeLessThanOrEqual(60_000);
  });
});
