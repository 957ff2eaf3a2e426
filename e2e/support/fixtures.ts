/**
 * The Playwright fixtures of the browser suite. Each spec file gets its own deployment ("stack"): a real
 * `redis-server` on a free port and one or more demo servers on free ports, sharing that Redis and one secret, so
 * files never see each other's sessions, rate-limit counters or metrics. `baseURL` points at the first demo server.
 *
 *   const stack = useStack({ accessTtlSeconds: 5 });
 *   test('...', async ({ page }) => { await page.goto('/'); ... stack().demo.url ... });
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { test as base, expect, type BrowserContext, type TestInfo } from '@playwright/test';
import {
  DEMO_PAGE_INDEX,
  startDemoProcess,
  startRedisCluster,
  startRedisServer,
  type DemoProcess,
  type RedisCluster,
  type RedisServer,
} from '@latchkey/testkit';
import { DEV_IDP_CLIENT_ID, DEV_IDP_CLIENT_SECRET } from '../../examples/demo/src/dev-idp-client.js';

export interface StackOptions {
  /** appendonly yes (fsync always), so the data survives a restart of redis-server. */
  persistent?: boolean;
  /** LATCHKEY_ACCESS_TTL of every demo server of the stack (short, so silent refresh is exercised). */
  accessTtlSeconds?: number;
  /** The specs of this file drive the demo page: fail early and clearly when it is not built. Default true. */
  requirePage?: boolean;
  /** Run the stack on a local 3-master Redis Cluster instead of one redis-server. */
  cluster?: boolean;
  /**
   * Sign-in through an identity provider: the first demo process runs the bundled development IdP
   * (LATCHKEY_DEMO_IDP=true, at `<first>/idp`); later ones use it as their upstream (LATCHKEY_OIDC_*).
   */
  idp?: boolean;
  /** More environment for every demo process of the stack (LATCHKEY_DEMO_PROXY, ...). */
  env?: Record<string, string>;
}

export interface Stack {
  /** The one redis-server (throws on a Cluster stack: see `cluster`). */
  readonly redis: RedisServer;
  /** The Redis Cluster of a `cluster: true` stack. */
  readonly cluster: RedisCluster | undefined;
  /** The demo server behind `baseURL`. */
  demo: DemoProcess;
  /** Every demo server started for this stack (the first is `demo`). */
  demos: DemoProcess[];
  secret: string;
  accessTtlSeconds: number;
  /** Another demo process on the same Redis and secret: the same deployment (`env` on top of the stack's). Stopped with the stack. */
  addDemo(env?: Record<string, string>): Promise<DemoProcess>;
}

export const DEFAULT_ACCESS_TTL_SECONDS = 5;

let active: Stack | undefined;

async function startStack(options: StackOptions): Promise<Stack> {
  const cluster = options.cluster ? await startRedisCluster({ masters: 3 }) : undefined;
  const redis = cluster ? undefined : await startRedisServer({ persistence: options.persistent ?? false });
  const redisUrl = cluster?.url ?? redis!.url;
  const extraEnv: Record<string, string> = cluster ? { LATCHKEY_REDIS_CLUSTER: 'true' } : {};
  const secret = `e2e-${randomBytes(24).toString('base64url')}`;
  const accessTtlSeconds = options.accessTtlSeconds ?? DEFAULT_ACCESS_TTL_SECONDS;
  const demos: DemoProcess[] = [];
  const addDemo = async (env: Record<string, string> = {}) => {
    // The second and later processes take the first one's issuer: one deployment, one `iss` and `aud`.
    const issuer = demos[0]?.url;
    const idpEnv: Record<string, string> = !options.idp
      ? {}
      : issuer === undefined
        ? { LATCHKEY_DEMO_IDP: 'true' }
        : { LATCHKEY_OIDC_ISSUER: `${issuer}/idp`, LATCHKEY_OIDC_CLIENT_ID: DEV_IDP_CLIENT_ID, LATCHKEY_OIDC_CLIENT_SECRET: DEV_IDP_CLIENT_SECRET };
    const demo = await startDemoProcess({
      env: {
        // Info, not the kit's warn: a failed test attaches these logs.
        LATCHKEY_LOG_LEVEL: process.env.LATCHKEY_LOG_LEVEL ?? 'info',
        ...extraEnv,
        ...idpEnv,
        REDIS_URL: redisUrl,
        LATCHKEY_SECRET: secret,
        LATCHKEY_ACCESS_TTL: String(accessTtlSeconds),
        // Without it each process's issuer is its own http://localhost:<port>, as the first one's is.
        ...(issuer ? { LATCHKEY_ISSUER: issuer } : {}),
        ...options.env,
        ...env,
      },
    });
    demos.push(demo);
    return demo;
  };
  try {
    const demo = await addDemo();
    return {
      get redis(): RedisServer {
        if (!redis) throw new Error('this stack runs on a Redis Cluster (stack.cluster), not one redis-server');
        return redis;
      },
      cluster,
      demo,
      demos,
      secret,
      accessTtlSeconds,
      addDemo,
    };
  } catch (error) {
    await Promise.allSettled(demos.map((d) => d.stop()));
    await redis?.stop();
    await cluster?.stop();
    throw error;
  }
}

async function stopStack(stack: Stack): Promise<void> {
  await Promise.allSettled(stack.demos.map((d) => d.stop()));
  if (stack.cluster) await stack.cluster.stop();
  else await stack.redis.stop();
}

/**
 * Starts a fresh stack for the spec file that calls it (beforeAll) and stops it afterwards (afterAll).
 * Returns an accessor, valid inside tests and hooks.
 */
export function useStack(options: StackOptions = {}): () => Stack {
  test.beforeAll(async ({}, testInfo) => {
    testInfo.setTimeout(60_000);
    if (options.requirePage !== false && !existsSync(DEMO_PAGE_INDEX)) {
      throw new Error(`${DEMO_PAGE_INDEX} is missing: build the demo page (cd examples/demo/web && npx vite build)`);
    }
    active = await startStack(options);
  });
  test.afterAll(async ({}, testInfo) => {
    testInfo.setTimeout(30_000);
    if (active) await stopStack(active);
    active = undefined;
  });
  return () => {
    if (!active) throw new Error('no stack: call useStack() at the top of the spec file');
    return active;
  };
}

async function attachLogs(stack: Stack, testInfo: TestInfo): Promise<void> {
  for (const [i, demo] of stack.demos.entries()) {
    await testInfo.attach(`demo-server-${i}.log`, { body: demo.output(), contentType: 'text/plain' });
  }
  if (!stack.cluster) await testInfo.attach('redis-server.log', { body: stack.redis.output(), contentType: 'text/plain' });
}

export interface Fixtures {
  stack: Stack;
  /** A new device: a fresh browser context (own cookie jar, storage and tabs) on the stack's demo server. */
  newDevice: () => Promise<BrowserContext>;
  serverLogsOnFailure: void;
}

export const test = base.extend<Fixtures>({
  stack: async ({}, use) => {
    if (!active) throw new Error('no stack: call useStack() at the top of the spec file');
    await use(active);
  },
  // Not through `stack`: Playwright also resolves baseURL for the beforeAll hooks, before the stack exists.
  baseURL: async ({}, use) => {
    await use(active?.demo.url);
  },
  newDevice: async ({ browser, stack }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async () => {
      const context = await browser.newContext({ baseURL: stack.demo.url });
      contexts.push(context);
      return context;
    });
    await Promise.allSettled(contexts.map((c) => c.close()));
  },
  serverLogsOnFailure: [
    async ({}, use, testInfo) => {
      await use();
      if (active && testInfo.status !== testInfo.expectedStatus) await attachLogs(active, testInfo);
    },
    { auto: true },
  ],
});

export { expect };
