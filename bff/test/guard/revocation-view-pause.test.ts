import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RevocationView } from '../../src/guard/revocation-view.js';
import { RedisStore } from '../../src/store/redis.js';
import type { SessionStore } from '../../src/store/types.js';
import { type RedisServer, startRedisServer } from '@latchkey/testkit';

/** The guard's local view following a real Redis that stops answering (SIGSTOP) and comes back. */
describe('RevocationView on a paused Redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    server?.resume();
    await server?.stop();
  });

  it('is current again on the store’s first answer after the pause: a read after a failure never waits for news', async () => {
    const store = await RedisStore.connect({ url: server.url, prefix: `view-${randomUUID()}:` });
    const reads: Array<{ blockMs: number; ok: boolean | null }> = [];
    /** The real store, with every read of the log recorded. */
    const recording = {
      readRevocations: async (after: string | null, options: { blockMs: number; count: number }) => {
        const read = { blockMs: options.blockMs, ok: null as boolean | null };
        reads.push(read);
        try {
          const batch = await store.readRevocations(after, options);
          read.ok = true;
          return batch;
        } catch (error) {
          read.ok = false;
          throw error;
        }
      },
    } as unknown as SessionStore;
    const view = new RevocationView({ store: recording, logger: pino({ level: 'silent' }) });
    try {
      await view.start();
      await expect.poll(() => reads.some((r) => r.ok === true && r.blockMs > 0), { timeout: 5000 }).toBe(true);

      server.pause();
      await expect.poll(() => reads.filter((r) => r.ok === false).length, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(2);
      server.resume();
      const resumedAt = performance.now();
      await expect.poll(() => view.stalenessMs(), { timeout: 5000, interval: 2 }).toBe(0);
      console.info(`revocation view current again ${Math.round(performance.now() - resumedAt)} ms after SIGCONT`);

      // A blocking read answers only once news arrives or its wait runs out: after a failure the view must not wait.
      const afterFailure = reads.filter((_, i) => i > 0 && reads[i - 1]!.ok === false);
      expect(afterFailure.length).toBeGreaterThanOrEqual(2);
      expect(afterFailure.map((r) => r.blockMs)).toEqual(afterFailure.map(() => 0));
      // And once the store answers, the view follows with blocking reads again.
      await expect.poll(() => reads.at(-1)!.blockMs, { timeout: 5000 }).toBeGreaterThan(0);
    } finally {
      view.stop();
      await store.close();
    }
  }, 30_000);
});
