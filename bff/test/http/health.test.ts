import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer, type RedisServer } from '@latchkey/testkit';
import { RedisStore } from '../../src/store/redis.js';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { startTestBff, type TestBff } from '../helpers/harness.js';

/**
 * GET /auth/healthz and /auth/readyz (SPEC "Operations"): public, never cached, and readiness follows what the guard
 * needs to decide a fail-closed route: a store that answers and a revocation feed within its staleness bound.
 */

const probe = (t: TestBff, path: string) => request(t.app).get(path);

function expectNeverCached(res: request.Response): void {
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['set-cookie']).toBeUndefined();
}

describe('health probes on the in-memory store', () => {
  let t: TestBff;
  afterEach(async () => {
    await t?.close();
  });

  it('answer 200 without a cookie or X-CSRF, from any Origin, never cached, revealing nothing but the verdict', async () => {
    t = await startTestBff();
    for (const [path, status] of [
      ['/auth/healthz', 'ok'],
      ['/auth/readyz', 'ready'],
    ] as const) {
      const res = await probe(t, path).set('Origin', 'https://elsewhere.example');
      expect(res.status, path).toBe(200);
      expect(res.body).toEqual({ status });
      expectNeverCached(res);
      const head = await request(t.app).head(path);
      expect(head.status).toBe(200);
      expect(head.headers['cache-control']).toBe('no-store');
    }
  });

  it('are GET only: another method is 404 like any unknown route (after the X-CSRF check)', async () => {
    t = await startTestBff();
    const res = await request(t.app).post('/auth/readyz').set('X-CSRF', '1').send({});
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: 'not_found', message: 'Not found.' });
  });

  it('readyz answers 503 with Retry-After when the store does not answer, healthz stays 200', async () => {
    let failing = false;
    // The in-memory store with one read failing as an unreachable Redis does: the feed keeps answering, the store does not.
    class FlakyStore extends MemoryStore {
      override async getKeyRing() {
        if (failing) throw new StoreUnavailableError('store unreachable');
        return super.getKeyRing();
      }
    }
    t = await startTestBff({}, new FlakyStore());
    failing = true;
    // The last good answer may be reused for up to a second (a probe flood costs one read a second).
    await expect.poll(async () => (await probe(t, '/auth/readyz')).status, { timeout: 3000, interval: 100 }).toBe(503);
    const res = await probe(t, '/auth/readyz');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body).toEqual({ error: 'temporarily_unavailable', message: 'This instance is not ready to serve.' });
    expectNeverCached(res);
    expect((await probe(t, '/auth/healthz')).status).toBe(200);
    failing = false;
    await expect.poll(async () => (await probe(t, '/auth/readyz')).status, { timeout: 3000, interval: 100 }).toBe(200);
  });

  it('readyz answers 503 when the revocation feed falls behind its staleness bound, though the store still answers reads', async () => {
    let feedFailing = false;
    // The in-memory store whose revocation log stops answering: the guard's view goes stale, as when a feed connection hangs.
    class StalledFeedStore extends MemoryStore {
      override async readRevocations(...args: Parameters<MemoryStore['readRevocations']>) {
        if (feedFailing) throw new StoreUnavailableError('feed unreachable');
        return super.readRevocations(...args);
      }
    }
    t = await startTestBff({}, new StalledFeedStore());
    expect((await probe(t, '/auth/readyz')).status).toBe(200);
    feedFailing = true;
    await expect.poll(async () => (await probe(t, '/auth/readyz')).status, { timeout: 4000, interval: 100 }).toBe(503);
    expect((await probe(t, '/auth/readyz')).headers['retry-after']).toBe('1');
    feedFailing = false;
    await expect.poll(async () => (await probe(t, '/auth/readyz')).status, { timeout: 4000, interval: 100 }).toBe(200);
  });

  it('readyz answers 503 once bff.close() has begun (the instance is draining); healthz stays 200', async () => {
    t = await startTestBff();
    expect((await probe(t, '/auth/readyz')).status).toBe(200);
    await t.bff.close();
    const res = await probe(t, '/auth/readyz');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect((await probe(t, '/auth/healthz')).status).toBe(200);
  });
});

describe('health probes on a real redis-server, paused (SIGSTOP) and resumed', () => {
  let redis: RedisServer;
  let t: TestBff;

  beforeAll(async () => {
    redis = await startRedisServer();
    t = await startTestBff({}, await RedisStore.connect({ url: redis.url, prefix: `health-${Date.now()}:` }));
  });
  afterAll(async () => {
    redis?.resume();
    await t?.close();
    await redis?.stop();
  });

  it('readyz: 200, then 503 with Retry-After within the staleness bound of a pause, then 200 soon after the resume; healthz 200 throughout', async () => {
    expect((await probe(t, '/auth/readyz')).status).toBe(200);
    redis.pause();
    const pausedAt = Date.now();
    try {
      await expect.poll(async () => (await probe(t, '/auth/readyz')).status, { timeout: 4000, interval: 50 }).toBe(503);
      const notReadyAfterMs = Date.now() - pausedAt;
      const res = await probe(t, '/auth/readyz');
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expectNeverCached(res);
      // A probe must answer within a Kubernetes probe's default 1 s timeout, paused store or not.
      const started = Date.now();
      expect((await probe(t, '/auth/healthz')).status).toBe(200);
      await probe(t, '/auth/readyz');
      expect(Date.now() - started).toBeLessThan(1000);
      // The guard fails closed from ~1 s of staleness: readiness must have gone before then, give or take a probe.
      expect(notReadyAfterMs).toBeLessThan(2500);
    } finally {
      redis.resume();
    }
    const resumedAt = Date.now();
    await expect.poll(async () => (await probe(t, '/auth/readyz')).status, { timeout: 5000, interval: 50 }).toBe(200);
    console.info(`readyz back to 200 ${Date.now() - resumedAt} ms after SIGCONT`);
  });
});
