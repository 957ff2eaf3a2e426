import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type RedisServer } from '@latchkey/testkit';
import { RedisStore } from '../../src/store/redis.js';
import { MemoryStore } from '../../src/store/memory.js';
import { startTestBff } from '../helpers/harness.js';
import { startOidcStack } from '../helpers/oidc.js';
import type { Bff } from '../../src/index.js';

/** The gauges and counters the alert rules of deploy/prometheus/latchkey-rules.yml read (docs/operations.md). */

async function sample(bff: Bff, name: string): Promise<number> {
  const metric = (await bff.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (!metric) throw new Error(`${name} is not registered`);
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

describe('latchkey_revocation_view_staleness_seconds', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    redis?.resume();
    await redis?.stop();
  });

  it('is 0 while the store answers, grows while it is paused, and is 0 again once it answers', async () => {
    const store = await RedisStore.connect({ url: redis.url, prefix: `staleness-${randomUUID()}:`, commandTimeoutMs: 200 });
    const { bff, close } = await startTestBff({}, store);
    try {
      expect(await sample(bff, 'latchkey_revocation_view_staleness_seconds')).toBe(0);
      redis.pause();
      await expect.poll(() => sample(bff, 'latchkey_revocation_view_staleness_seconds'), { timeout: 10_000, interval: 100 }).toBeGreaterThan(1);
      redis.resume();
      await expect.poll(() => sample(bff, 'latchkey_revocation_view_staleness_seconds'), { timeout: 10_000, interval: 50 }).toBe(0);
    } finally {
      redis.resume();
      await close();
    }
  }, 30_000);
});

describe('latchkey_idp_unreachable_total', () => {
  it('stays 0 while the IdP answers and counts each request that found it down', async () => {
    const stack = await startOidcStack(new MemoryStore({ warnInProduction: false }));
    try {
      expect((await fetch(`${stack.origin}/auth/oidc/login`, { redirect: 'manual' })).status).toBe(303);
      expect(await sample(stack.bff.bff, 'latchkey_idp_unreachable_total')).toBe(0);
      await stack.idp.stop();
      // Discovery was cached by the first sign-in; the token endpoint is what is down now (a code the IdP never saw).
      const start = await fetch(`${stack.origin}/auth/oidc/login`, { redirect: 'manual' });
      expect(start.status).toBe(303);
      const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
      const cookie = start.headers.getSetCookie()[0]!.split(';')[0]!;
      const callback = await fetch(`${stack.origin}/auth/oidc/callback?code=x&state=${state}&iss=${encodeURIComponent(stack.idp.issuer)}`, {
        redirect: 'manual',
        headers: { Cookie: cookie },
      });
      expect(callback.status).toBe(503);
      expect(await sample(stack.bff.bff, 'latchkey_idp_unreachable_total')).toBe(1);
    } finally {
      await stack.close();
    }
  });

  it('counts a 5xx from the IdP (here at discovery) as unreachable', async () => {
    const port = await freePort();
    const failing: Server = createServer((_req, res) => void res.writeHead(502).end('bad gateway'));
    await new Promise<void>((resolve) => failing.listen(port, '127.0.0.1', resolve));
    const stack = await startOidcStack(new MemoryStore({ warnInProduction: false }), { issuer: `http://127.0.0.1:${port}` });
    try {
      expect((await fetch(`${stack.origin}/auth/oidc/login`, { redirect: 'manual' })).status).toBe(503);
      expect(await sample(stack.bff.bff, 'latchkey_idp_unreachable_total')).toBe(1);
    } finally {
      await stack.close();
      await new Promise<void>((resolve) => failing.close(() => resolve()));
    }
  });
});
