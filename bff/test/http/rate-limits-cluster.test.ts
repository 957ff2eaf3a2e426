/**
 * Rate limits on a real 3-master Redis Cluster, with one master paused: login fails closed when a counter it needs is
 * unreachable; refresh does not fail because of a master that holds only its per-IP counter (its per-session counter
 * lives in the session's own slot).
 */
import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sha256 } from '../../src/crypto/hash.js';
import { decodeSessionCookie } from '../../src/crypto/session-cookie-value.js';
import { ipKey } from '../../src/http/rate-limit.js';
import { createRedisKeyLayout } from '../../src/store/redis-keys.js';
import { RedisStore } from '../../src/store/redis.js';
import { masterOfUser } from '../helpers/cluster-slots.js';
import { type RedisCluster, startRedisCluster } from '@latchkey/testkit';
import { call, login, startTestBff, SECRET, USERS, type TestBff } from '../helpers/harness.js';

const PREFIX = 'lkr:';
let cluster: RedisCluster;
let t: TestBff;
let slotOwners: Cluster;
const checks = { count: 0 };

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  slotOwners = new Cluster([...cluster.seeds], { lazyConnect: true });
  await slotOwners.connect();
  const store = await RedisStore.connect({ clusterNodes: [cluster.url], prefix: PREFIX, commandTimeoutMs: 300 });
  t = await startTestBff(
    {
      authenticate: async (username, password) => {
        checks.count++;
        const user = USERS[username];
        return user && user.password === password ? { id: user.id, name: user.name } : null;
      },
    },
    store,
  );
  t.app.set('trust proxy', 'loopback');
}, 60_000);

afterAll(async () => {
  slotOwners?.disconnect();
  await t?.close();
  await cluster?.stop();
});

const ownerOf = (key: string): string => (slotOwners.slots[calculateSlot(key)] ?? [])[0]!;
const counterKey = (name: string, key: string) => `${PREFIX}rl:${name}:${sha256(key)}`;

it('a paused master: login whose counters live there answers 503 before any password check; refresh whose session lives elsewhere still works', async () => {
  const bob = await login(t.app, 'bob');
  const sessionKey = decodeSessionCookie(decodeURIComponent(bob.cookie.split('=')[1]!), [SECRET])!.key;
  const sessionMaster = await masterOfUser(cluster, 'user-bob', PREFIX);
  const sessionNode = `${sessionMaster.host}:${sessionMaster.port}`;

  // The per-session counter sits in the session's slot.
  const layout = createRedisKeyLayout(PREFIX, 16);
  const shardPrefix = layout.shardPrefixes[layout.shardOfUser('user-bob')]!;
  const tag = shardPrefix.slice(PREFIX.length);
  expect(calculateSlot(`${PREFIX}rl:refresh-session:${tag}${sha256(sessionKey)}`)).toBe(calculateSlot(shardPrefix));

  // An address whose login and refresh per-IP counters both live on one master that does not hold bob's session.
  const ip = Array.from({ length: 2000 }, (_, i) => `198.51.${i >> 8}.${i & 255}`).find((candidate) => {
    const owner = ownerOf(counterKey('refresh-ip', ipKey(candidate)));
    return owner !== sessionNode && owner === ownerOf(counterKey('login-ip', ipKey(candidate)));
  })!;
  const paused = cluster.nodes.find((n) => `${n.host}:${n.port}` === ownerOf(counterKey('refresh-ip', ipKey(ip))))!;
  const before = checks.count;
  paused.pause();
  try {
    const refreshed = await call(t.app, 'post', '/auth/refresh', { cookie: bob.cookie, headers: { 'X-Forwarded-For': ip } });
    expect(refreshed.status).toBe(200);
    for (const password of ['wrong', 'wonderland']) {
      const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password }, headers: { 'X-Forwarded-For': ip } });
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('temporarily_unavailable');
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(checks.count).toBe(before);
  } finally {
    paused.resume();
  }
  const passes = t.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'rate_limit_store_unavailable');
  expect(passes).toEqual([expect.objectContaining({ limit: 'refresh-ip', ip })]);
});
