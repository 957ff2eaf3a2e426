import { createHash } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { sessionKeyTag, userTag } from './session-key.js';

/**
 * Where the Redis store keeps things. Every key carries a shard's hash tag, `P{<tag>}`, and everything a script
 * touches is in one shard: a user's sessions, their sid and user indexes, tombstones, the user's `revoked_after`
 * and the shard's own revocation log. So each script stays inside one Cluster slot and still appends its event to
 * the log atomically with the state change (a crash between the two would lose a revocation).
 *
 * A user's shard is their tag (see session-key.ts) modulo the shard count. The count must be the same on every
 * instance and must not change while sessions live: a user would then be looked up in another shard.
 *
 * Shard tags are chosen so their slots are evenly spaced over the 16 384 slots, so with Redis's default even slot
 * ranges the shards spread evenly over the masters.
 */
export const MAX_SHARDS = 256;
const SLOTS = 16_384;

export interface RedisKeyLayout {
  readonly shardCount: number;
  /** `P{<tag>}` of each shard: what scripts get as their key prefix. */
  readonly shardPrefixes: readonly string[];
  /** The revocation log of each shard, `P{<tag>}rv` (also the channel its appends are announced on). */
  readonly logKeys: readonly string[];
  shardOfUser(userId: string): number;
  /** The shard named by a session key's tag, or null for a malformed key (which names no session). */
  shardOfSessionKey(key: string): number | null;
  /** jti revocations spread over the shards by the jti's own hash. */
  shardOfJti(jti: string): number;
  session(shard: number, key: string): string;
  tombstone(shard: number, key: string): string;
  sidIndex(shard: number, sid: string): string;
  userIndex(shard: number, userId: string): string;
  userMarker(shard: number, userId: string): string;
  /**
   * Sessions started by one IdP session, `P{<tag>}ip:<sha1(iss \n idpSid)>`, in the user's shard (written in the
   * same script as the session). A back-channel logout knows the IdP sid, not the user, so it asks every shard.
   * The Lua scripts build the same name with `redis.sha1hex`.
   */
  idpSidIndex(shard: number, iss: string, idpSid: string): string;
  /**
   * A tenant's sessions in one shard, `P{<tag>}tn:<sha1(tenant)>`, written in the same script as each session (its
   * user's shard). A tenant revocation asks every shard. The Lua scripts build the same name with `redis.sha1hex`.
   */
  tenantIndex(shard: number, tenant: string): string;
  /** A tenant's `revoked_after`, `P{<tag>}rt:<sha1(tenant)>`, in the tenant's own shard (`shardOfTenant`). */
  tenantMarker(shard: number, tenant: string): string;
  shardOfTenant(tenant: string): number;
  /** Every session of one shard, `P{<tag>}al`, scored by absolute end (revokeAllSessions walks it). */
  allSessions(shard: number): string;
  /** What a revokeAllSessions still has to end in one shard, `P{<tag>}as`. */
  allSessionsSweep(shard: number): string;
  /** The global `revoked_after` (revokeAllSessions), `P{<tag 0>}ra`, in shard 0 with the log that gets its event. */
  globalMarker(): string;
  /** One-time ids (useOnce), one key each, no hash tag: each command touches that one key. */
  usedOnce(id: string): string;
  /** express-session entries of the OIDC login transaction, one key each. */
  loginTransaction(prefix: string, id: string): string;
  keyRingVersion(): string;
  keyRingSealed(): string;
}

export function createRedisKeyLayout(prefix: string, shardCount: number): RedisKeyLayout {
  const shardPrefixes = Array.from({ length: shardCount }, (_, i) => `${prefix}{${shardTag(i, shardCount)}}`);
  const at = (shard: number) => shardPrefixes[shard]!;
  const shardOfTag = (tag: string) => Number.parseInt(tag, 16) % shardCount;
  return Object.freeze({
    shardCount,
    shardPrefixes: Object.freeze(shardPrefixes),
    logKeys: Object.freeze(shardPrefixes.map((p) => `${p}rv`)),
    shardOfUser: (userId: string) => shardOfTag(userTag(userId)),
    shardOfSessionKey: (key: string) => {
      const tag = sessionKeyTag(key);
      return tag === null ? null : shardOfTag(tag);
    },
    shardOfJti: (jti: string) => shardOfTag(userTag(jti)),
    session: (shard: number, key: string) => `${at(shard)}s:${key}`,
    tombstone: (shard: number, key: string) => `${at(shard)}ts:${key}`,
    sidIndex: (shard: number, sid: string) => `${at(shard)}sid:${sid}`,
    userIndex: (shard: number, userId: string) => `${at(shard)}u:${userId}`,
    userMarker: (shard: number, userId: string) => `${at(shard)}ru:${userId}`,
    idpSidIndex: (shard: number, iss: string, idpSid: string) => `${at(shard)}ip:${sha1Hex(`${iss}\n${idpSid}`)}`,
    tenantIndex: (shard: number, tenant: string) => `${at(shard)}tn:${sha1Hex(tenant)}`,
    tenantMarker: (shard: number, tenant: string) => `${at(shard)}rt:${sha1Hex(tenant)}`,
    shardOfTenant: (tenant: string) => shardOfTag(userTag(`tenant\n${tenant}`)),
    allSessions: (shard: number) => `${at(shard)}al`,
    allSessionsSweep: (shard: number) => `${at(shard)}as`,
    globalMarker: () => `${at(0)}ra`,
    usedOnce: (id: string) => `${prefix}once:${createHash('sha256').update(id).digest('base64url')}`,
    loginTransaction: (name: string, id: string) => `${prefix}tx:${name}:${id}`,
    // The key ring lives in shard 0, so its compare-and-set can append its event to shard 0's log.
    keyRingVersion: () => `${at(0)}kr:version`,
    keyRingSealed: () => `${at(0)}kr:sealed`,
  });
}

const sha1Hex = (value: string): string => createHash('sha1').update(value).digest('hex');

/** The first of `i`, `i.0`, `i.1`, ... whose slot falls in the i-th of `count` equal slot ranges. */
function shardTag(i: number, count: number): string {
  const low = Math.floor((i * SLOTS) / count);
  const high = Math.floor(((i + 1) * SLOTS) / count);
  const inRange = (tag: string) => {
    const slot = calculateSlot(tag);
    return slot >= low && slot < high;
  };
  if (inRange(String(i))) return String(i);
  for (let j = 0; ; j++) {
    const tag = `${i}.${j}`;
    if (inRange(tag)) return tag;
  }
}
