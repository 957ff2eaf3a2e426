import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRedisKeyLayout } from '../../src/store/redis-keys.js';
import { RedisScriptError, isScriptFailure } from '../../src/store/redis-script-error.js';
import { RedisStore } from '../../src/store/redis.js';
import { StoreUnavailableError } from '../../src/store/types.js';
import { type RedisServer, startRedisServer } from '@latchkey/testkit';
import { call, login, startTestBff, type TestBff } from '../helpers/harness.js';
import { newSession } from './contract.js';

/** A Lua error is a bug, not an outage: RedisStore reports it as RedisScriptError (500), never StoreUnavailableError (503). */
let server: RedisServer;
let inspector: Redis;
const cleanup: Array<() => Promise<void>> = [];

beforeAll(async () => {
  server = await startRedisServer();
  inspector = new Redis(server.url, { lazyConnect: true });
  await inspector.connect();
});
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((close) => close()));
});
afterAll(async () => {
  await inspector?.quit();
  await server?.stop();
});

async function open() {
  const prefix = `lkt:${randomUUID()}:`;
  const store = await RedisStore.connect({ url: server.url, prefix });
  cleanup.push(() => store.close());
  return { store, layout: createRedisKeyLayout(prefix, 1) };
}

describe('RedisStore: a script error is a bug, not an outage', () => {
  it('a Lua runtime error (a session field the script cannot read) is RedisScriptError, not StoreUnavailableError', async () => {
    const { store, layout } = await open();
    const now = Date.now();
    const session = newSession('user-lua', {}, now);
    await store.createSession(session);
    await inspector.hset(layout.session(0, session.key), 'idleExpiresAt', 'not-a-number');
    const failure = await store.endSession(session.key, 'logout', now, 60_000).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RedisScriptError);
    expect(failure).not.toBeInstanceOf(StoreUnavailableError);
    expect((failure as Error).message).toMatch(/^Redis endSession script failed: ERR user_script:\d+: .*compare/);
  });

  it('a command the script calls on a key of the wrong type (WRONGTYPE) is RedisScriptError too', async () => {
    const { store, layout } = await open();
    const session = newSession('user-wrongtype');
    await inspector.set(layout.userIndex(0, session.userId), 'a string, not a sorted set');
    const failure = await store.createSession(session).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RedisScriptError);
    expect((failure as Error).message).toMatch(/^Redis createSession script failed: WRONGTYPE /);
  });

  it('an unreachable Redis is still StoreUnavailableError', async () => {
    const { store } = await open();
    server.pause();
    try {
      const failure = await store.endSession(newSession('user-paused').key, 'logout', Date.now(), 60_000).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(StoreUnavailableError);
    } finally {
      server.resume();
    }
  });

  it('tells script failures from Redis answering about its own state (an outage or a failover, even inside a script)', () => {
    const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
    expect(isScriptFailure(reply('ERR user_script:3: attempt to compare nil with number script: 1f2e, on @user_script:3.'))).toBe(true);
    expect(isScriptFailure(reply('WRONGTYPE Operation against a key holding the wrong kind of value script: 1f2e, on @user_script:9.'))).toBe(true);
    expect(isScriptFailure(reply('ERR Error running script (call to f_1f2e): @user_script:3: attempt to compare nil with number'))).toBe(true);
    expect(isScriptFailure(reply("OOM command not allowed when used memory > 'maxmemory'. script: 1f2e, on @user_script:9."))).toBe(false);
    expect(isScriptFailure(reply("READONLY You can't write against a read only replica. script: 1f2e, on @user_script:9."))).toBe(false);
    expect(isScriptFailure(reply('LOADING Redis is loading the dataset in memory'))).toBe(false);
    expect(isScriptFailure(new Error('ERR user_script:3: not a reply'))).toBe(false);
  });
});

describe('a BFF on Redis whose script fails', () => {
  let t: TestBff;

  it('answers 500 internal_error (not 503 temporarily_unavailable), logs it as an internal error and counts no store outage', async () => {
    const prefix = `lkt:${randomUUID()}:`;
    t = await startTestBff({}, await RedisStore.connect({ url: server.url, prefix }));
    cleanup.push(() => t.close());
    const device = await login(t.app);
    // The user's session index is no sorted set any more: ending the user's sessions fails inside the script.
    await inspector.set(createRedisKeyLayout(prefix, 1).userIndex(0, 'user-alice'), 'a string');
    const res = await call(t.app, 'post', '/auth/logout-all', { cookie: device.cookie });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ error: 'internal_error', message: 'Something went wrong.' });
    expect(res.headers['retry-after']).toBeUndefined();
    const logged = t.logLines.map((line) => JSON.parse(line) as { event?: string; level: number; err?: { name?: string; message?: string } });
    expect(logged.find((l) => l.event === 'internal_error')).toMatchObject({
      level: 50,
      err: { name: 'RedisScriptError', message: expect.stringMatching(/^Redis endAllUserSessions script failed: WRONGTYPE /) as string },
    });
    expect(logged.some((l) => l.event === 'store_unavailable')).toBe(false);
    expect(await t.bff.metrics.registry.getSingleMetricAsString('latchkey_store_errors_total')).toMatch(/ 0$/m);
  });
});
