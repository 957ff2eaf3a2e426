/**
 * Pins the revocation stream's wire format as docs/revocation-stream.md documents it for consumers in other
 * languages: revocations are written through the Redis store, then the raw stream entries (and, on a Cluster, the
 * bell's messages) are read with a plain ioredis client and compared field by field with the documentation.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from '@latchkey/testkit';
import { newSession } from '../store/contract.js';

const DOC = readFileSync(new URL('../../../docs/revocation-stream.md', import.meta.url), 'utf8');
const MARKER_TTL = 306_000;
/** The key-ring entry's lifetime, as documented (10 minutes). */
const KEY_RING_TTL = 600_000;

/** The sixteen log keys the document lists for the Cluster default, with the default prefix. */
function documentedSixteen(): string[] {
  const block = /<!-- log-keys-16 -->\n([^\n]+)\n<!-- \/log-keys-16 -->/.exec(DOC)?.[1];
  if (block === undefined) throw new Error('docs/revocation-stream.md lost its log-keys-16 block');
  return [...block.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** The documented routing: the first 8 hex digits of SHA-256(value), as a number, mod the shard count. */
const documentedShard = (value: string, shards: number) => Number.parseInt(createHash('sha256').update(value).digest('hex').slice(0, 8), 16) % shards;

type Entry = { id: string; idMs: number; fields: Record<string, string>; order: string[] };

async function entries(redis: Redis | Cluster, key: string): Promise<Entry[]> {
  const raw = await redis.xrange(key, '-', '+');
  return raw.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    const order: string[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      fields[flat[i]!] = flat[i + 1]!;
      order.push(flat[i]!);
    }
    return { id, idMs: Number(id.split('-')[0]), fields, order };
  });
}

/**
 * Every documented field of an entry, with `x` as its offset from the entry id's millisecond part (Redis's clock),
 * to the nearest second: the script computes `x` from TIME, and XADD stamps the id from Redis's own command clock,
 * which can be a millisecond apart on a busy machine. Every documented lifetime is whole seconds.
 */
const described = (e: Entry) => ({ ...e.fields, x: Math.round((Number(e.fields.x) - e.idMs) / 1000) * 1000 });

describe('the revocation stream on a single Redis (docs/revocation-stream.md)', () => {
  let server: RedisServer;
  let raw: Redis;
  const opened: RedisStore[] = [];
  const open = async (prefix: string, shards?: number) => {
    const store = await RedisStore.connect({ url: server.url, prefix, ...(shards ? { shards } : {}) });
    opened.push(store);
    return store;
  };

  beforeAll(async () => {
    server = await startRedisServer();
    raw = new Redis(server.port, '127.0.0.1');
  });
  afterAll(async () => {
    for (const store of opened) await store.close();
    raw?.disconnect();
    await server?.stop();
  });

  it('one shard by default, `<prefix>{0}rv`: every kind with its documented fields, units and order', async () => {
    const prefix = `fmt-${randomUUID()}:`;
    const store = await open(prefix);
    const user = 'user-alice';
    const first = newSession(user);
    const second = newSession(user);
    const revokedAfter = Date.now();

    await store.createSession(first, { logTtlMs: MARKER_TTL });
    await store.revokeJti('jti-1', 30_000);
    await store.endSession(first.key, 'logout', Date.now(), MARKER_TTL);
    await store.createSession(second, { logTtlMs: MARKER_TTL });
    await store.endAllUserSessions(user, 'logout_all', revokedAfter, Date.now(), MARKER_TTL);
    await store.putKeyRing(null, { version: 'ring-v1', sealed: 'sealed' });

    expect(await raw.keys(`${prefix}*rv`)).toEqual([`${prefix}{0}rv`]);
    const log = await entries(raw, `${prefix}{0}rv`);
    expect(log.map(described)).toEqual([
      { k: 'session', i: first.sid, x: MARKER_TTL, r: '0', u: user },
      { k: 'jti', i: 'jti-1', x: 30_000, r: '0' },
      { k: 'sid', i: first.sid, x: MARKER_TTL, r: '0', u: user, w: 'logout' },
      { k: 'session', i: second.sid, x: MARKER_TTL, r: '0', u: user },
      { k: 'sid', i: second.sid, x: MARKER_TTL, r: '0', u: user, w: 'logout_all' },
      { k: 'user', i: user, x: MARKER_TTL, r: String(revokedAfter) },
      { k: 'keyring', i: 'ring-v1', x: KEY_RING_TTL, r: '0' },
    ]);
    // Field order k, i, x, r, then u, w; ids `<ms>-<seq>`, strictly increasing, from Redis's clock (epoch ms).
    expect(log.map((e) => e.order.join(','))).toEqual(['k,i,x,r,u', 'k,i,x,r', 'k,i,x,r,u,w', 'k,i,x,r,u', 'k,i,x,r,u,w', 'k,i,x,r', 'k,i,x,r']);
    for (const e of log) expect(e.id).toMatch(/^\d+-\d+$/);
    const ids = log.map((e) => e.id.split('-').map(Number) as [number, number]);
    for (let i = 1; i < ids.length; i++) expect(ids[i]![0] - ids[i - 1]![0] || ids[i]![1] - ids[i - 1]![1]).toBeGreaterThan(0);
    const [redisSeconds] = await raw.time();
    expect(Math.abs(log[0]!.idMs - Number(redisSeconds) * 1000)).toBeLessThan(60_000);
    // The stream key expires once no entry has been added for the longest lifetime it holds.
    const pttl = await raw.pttl(`${prefix}{0}rv`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(KEY_RING_TTL);
  });

  it('reason `w` of each way a session ends', async () => {
    const prefix = `fmt-${randomUUID()}:`;
    const store = await open(prefix);
    const reasons: string[] = [];
    for (const reason of ['logout', 'device_revoked', 'reuse_detected'] as const) {
      const session = newSession('user-bob');
      await store.createSession(session);
      await store.endSession(session.key, reason, Date.now(), MARKER_TTL);
      reasons.push(reason);
    }
    const log = await entries(raw, `${prefix}{0}rv`);
    expect(log.map((e) => [e.fields.k, e.fields.w])).toEqual(reasons.map((w) => ['sid', w]));
  });

  it('sixteen shards: the documented key names, and entries routed to the documented shard', async () => {
    const prefix = 'lk:';
    const keys = documentedSixteen();
    expect(keys).toHaveLength(16);
    // A fresh database: the default prefix can be used as is.
    await raw.flushall();
    const store = await open(prefix, 16);
    const user = 'user-carol';
    const session = newSession(user);
    await store.createSession(session, { logTtlMs: MARKER_TTL });
    await store.endAllUserSessions(user, 'logout_all', Date.now(), Date.now(), MARKER_TTL);
    const jtis = Array.from({ length: 24 }, () => randomUUID());
    for (const jti of jtis) await store.revokeJti(jti, 30_000);
    await store.putKeyRing(null, { version: 'ring-16', sealed: 'sealed' });

    const found = new Map<string, Entry[]>();
    for (const key of keys) found.set(key, await entries(raw, key));
    const where = (kind: string, id: string) => keys.findIndex((key) => found.get(key)!.some((e) => e.fields.k === kind && e.fields.i === id));
    const userShard = documentedShard(user, 16);
    expect(where('session', session.sid)).toBe(userShard);
    expect(where('sid', session.sid)).toBe(userShard);
    expect(where('user', user)).toBe(userShard);
    for (const jti of jtis) expect({ jti, shard: where('jti', jti) }).toEqual({ jti, shard: documentedShard(jti, 16) });
    expect(where('keyring', 'ring-16')).toBe(0);
    // Nothing outside the documented keys.
    expect((await raw.keys('lk:*rv')).sort()).toEqual(keys.filter((key) => found.get(key)!.length > 0).sort());
    // Each name carries a Cluster hash tag: its slot is the tag's.
    for (const key of keys) expect(calculateSlot(key)).toBe(calculateSlot(/\{([^}]+)\}/.exec(key)![1]!));
  });
  it('a tenant revocation: its `tenant` entry (fields, units, the documented shard) and one `sid` entry per session', async () => {
    const prefix = `fmt-${randomUUID()}:`;
    const store = await open(prefix, 16);
    const tenant = 'acme corp';
    const session = newSession('user-dan', { tenant });
    await store.createSession(session);
    const revokedAfter = Date.now();
    await store.revokeTenant(tenant, revokedAfter, Date.now(), MARKER_TTL);

    const keys = documentedSixteen().map((key) => key.replace(/^lk:/, prefix));
    const logs = await Promise.all(keys.map((key) => entries(raw, key)));
    const shard = logs.findIndex((log) => log.some((e) => e.fields.k === 'tenant'));
    expect(shard).toBe(documentedShard(`tenant\n${tenant}`, 16));
    const entry = logs[shard]!.find((e) => e.fields.k === 'tenant')!;
    expect(described(entry)).toEqual({ k: 'tenant', i: tenant, x: MARKER_TTL, r: String(revokedAfter) });
    expect(entry.order).toEqual(['k', 'i', 'x', 'r']);
    const ended = logs[documentedShard('user-dan', 16)]!.filter((e) => e.fields.k === 'sid');
    expect(ended.map((e) => [e.fields.i, e.fields.w])).toEqual([[session.sid, 'tenant_revoked']]);
  });
  it('revoking every session: one `all` entry in shard 0 (fields, units) and one `sid` entry per session, in its user’s shard', async () => {
    const prefix = `fmt-${randomUUID()}:`;
    const store = await open(prefix, 16);
    const users = ['user-erin', 'user-frank', 'user-grace'];
    const sessions = users.map((user) => newSession(user));
    for (const session of sessions) await store.createSession(session);
    const revokedAfter = Date.now();
    await store.revokeAllSessions(revokedAfter, Date.now(), MARKER_TTL);

    const keys = documentedSixteen().map((key) => key.replace(/^lk:/, prefix));
    const logs = await Promise.all(keys.map((key) => entries(raw, key)));
    const all = logs.flatMap((log, shard) => log.filter((e) => e.fields.k === 'all').map((e) => ({ shard, e })));
    expect(all.map(({ shard, e }) => ({ shard, fields: described(e), order: e.order }))).toEqual([
      { shard: 0, fields: { k: 'all', i: '*', x: MARKER_TTL, r: String(revokedAfter) }, order: ['k', 'i', 'x', 'r'] },
    ]);
    users.forEach((user, i) => {
      const ended = logs[documentedShard(user, 16)]!.filter((e) => e.fields.k === 'sid' && e.fields.u === user);
      expect(ended.map((e) => [e.fields.i, e.fields.w])).toEqual([[sessions[i]!.sid, 'all_revoked']]);
    });
    // The documented rule: `r` in milliseconds, compared with iat in whole seconds.
    expect(DOC).toMatch(/\| `all` \| `admin\.revokeAllSessions`/);
  });
});

describe('the bell on a Redis Cluster (docs/revocation-stream.md)', () => {
  let cluster: RedisCluster;
  let store: RedisStore;
  let router: Cluster;
  const listeners: Redis[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    router = new Cluster([...cluster.seeds], { lazyConnect: true });
    await router.connect();
  }, 30_000);
  afterAll(async () => {
    for (const listener of listeners) listener.disconnect();
    await store?.close();
    router?.disconnect();
    await cluster?.stop();
  });

  it('SPUBLISHes `[previousId, id, fields]` on the channel named after the stream, from the master that owns it', async () => {
    const prefix = `fmt-${randomUUID()}:`;
    store = await RedisStore.connect({ clusterNodes: [cluster.url], prefix });
    // Sixteen shards by default on a Cluster, named as documented (with this test's prefix).
    const keys = documentedSixteen().map((key) => prefix + key.slice('lk:'.length));
    const channel = keys[0]!;
    const [host, port] = router.slots[calculateSlot(channel)]![0]!.split(':');
    // A plain connection to that master: a sharded message reaches subscribers of the owning master only.
    const listener = new Redis(Number(port), host!);
    listeners.push(listener);
    const heard: Array<[string, string]> = [];
    listener.on('smessage', (name: string, message: string) => void heard.push([name, message]));
    await listener.ssubscribe(channel);

    await store.putKeyRing(null, { version: 'ring-a', sealed: 'a' });
    await store.putKeyRing('ring-a', { version: 'ring-b', sealed: 'b' });
    await expect.poll(() => heard.length, { timeout: 3000, interval: 10 }).toBe(2);

    const log = await entries(router, channel);
    expect(log.map((e) => e.fields.i)).toEqual(['ring-a', 'ring-b']);
    const messages = heard.map(([name, message]) => [name, JSON.parse(message)]);
    expect(messages).toEqual([
      [channel, ['0-0', log[0]!.id, log[0]!.order.flatMap((f) => [f, log[0]!.fields[f]])]],
      [channel, [log[0]!.id, log[1]!.id, log[1]!.order.flatMap((f) => [f, log[1]!.fields[f]])]],
    ]);
  });
});
