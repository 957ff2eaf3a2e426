/**
 * Lua sources for the Redis session store (`redis.ts`), registered with ioredis `defineCommand`.
 *
 * Every script that reads a session and then writes depending on what it read runs in Redis
 * as one script, because Redis runs a script to completion before serving any other client:
 * two BFF instances can never interleave between the read and the write.
 *
 * Conventions shared by all scripts:
 * - `ARGV[1]` is the shard's key prefix `P{<tag>}` (see redis-keys.ts). Keys derived from a record's
 *   contents (sid, userId, the user's other sessions) are built inside the script from it, so they share
 *   the declared keys' hash tag: every script touches one Cluster slot.
 * - A session is a hash under `<shard>s:<key>` whose fields are the `DeviceSessionRecord`
 *   fields as strings; `previousHash` and `successorSealed` are absent while null.
 * - Numbers that get written are passed in from JavaScript as decimal strings and written
 *   verbatim, so Lua's number formatting never touches epoch milliseconds.
 * - A record goes back to JavaScript as the flat `HGETALL` array.
 *
 * Key layout within a shard `S` = `P{<tag>}`: `S s:<key>`, `S sid:<sid>`, `S ts:<key>`, `S u:<userId>` (the user's
 * sessions), `S ru:<userId>` (the user's `revoked_after`, kept so it never moves backwards), `S rv` (the shard's
 * revocation log: jti, sid, user and key-ring events); shard 0 also holds `S kr:sealed` and `S kr:version`.
 */

/** Stand for the bell in LOG_REVOCATION until `withBell` fills them in: the log's last id before the append, the announcement. */
const BELL_PREVIOUS = '--[[bell-previous]]';
const BELL = '--[[bell]]';

/**
 * The scripts as a store registers them: on a Cluster each appended event is announced with SPUBLISH on the shard
 * channel named after its log (the same slot as the script's keys, which a script's SPUBLISH must be; Redis >= 7);
 * on a single node nobody listens (one XREAD BLOCK follows every stream), so nothing is published.
 *
 * The message carries the entry itself, `[previousId, id, fields]` (JSON): a follower whose position is
 * `previousId` applies it without reading the log (one hop, as XREAD BLOCK gives a single node), and a follower
 * that missed a message sees the chain broken and reads the shard instead. See redis-log-bell.ts.
 */
export function withBell(lua: string, cluster: boolean): string {
  return lua
    .replace(BELL_PREVIOUS, cluster ? "local previous = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)" : '')
    .replace(BELL, cluster ? "redis.call('SPUBLISH', log, cjson.encode({previous[1] and previous[1][1] or '0-0', id, fields}))" : '');
}

/**
 * Appends one event to the shard's revocation log `S rv`, a stream every guard follows (see revocation-feed.ts),
 * and on a Cluster announces it on the shard channel of the same name (Cluster followers cannot block on every
 * shard's stream at once, so they wait for this instead; see redis-log-bell.ts).
 * Written in the same script as the state change it mirrors, so there is never a change without its event.
 * `extra` (optional field/value list) carries what event streams need: `u` (user id) and `w` (why) on sid events.
 * Bounded: events that carry the longest lifetime (sid, user) trim entries older than it (MINID), and the
 * whole log expires once no event has been added for that long.
 * Stamped with Redis's own clock (TIME), not the caller's: the stream ids, trimming and key TTLs all run on it, so
 * an entry's `x` must too (the BFF's `clock` option does not reach into Redis; see docs/time.md).
 */
const LOG_REVOCATION = `
local function log_revocation(prefix, kind, id, ttl, revoked_after, trim, extra)
  local log = prefix .. 'rv'
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local fields = {'k', kind, 'i', id, 'x', string.format('%d', now + ttl), 'r', revoked_after}
  if extra then for _, v in ipairs(extra) do table.insert(fields, v) end end
  ${BELL_PREVIOUS}
  local id
  if trim then
    id = redis.call('XADD', log, 'MINID', '~', string.format('%d', now - ttl), '*', unpack(fields))
  else
    id = redis.call('XADD', log, '*', unpack(fields))
  end
  if redis.call('PTTL', log) < ttl then redis.call('PEXPIRE', log, ttl) end
  ${BELL}
end
`;

/** The index of sessions started by one IdP session; the same name as `idpSidIndex` in redis-keys.ts. */
const IDP_SID_INDEX = `
local function idp_sid_index(prefix, iss, idp_sid)
  return prefix .. 'ip:' .. redis.sha1hex(iss .. '\\n' .. idp_sid)
end
`;

/** The index of a tenant's sessions in one shard; the same name as `tenantIndex` in redis-keys.ts. */
const TENANT_INDEX = `
local function tenant_index(prefix, tenant)
  return prefix .. 'tn:' .. redis.sha1hex(tenant)
end
`;

/** Helpers prepended to the scripts that end sessions. */
const HELPERS =
  LOG_REVOCATION +
  IDP_SID_INDEX +
  TENANT_INDEX +
  `
local function to_map(flat)
  local m = {}
  for i = 1, #flat, 2 do m[flat[i]] = flat[i + 1] end
  return m
end

local function is_expired(rec, now)
  return now >= tonumber(rec.idleExpiresAt) or now >= tonumber(rec.absoluteExpiresAt)
end

-- Deletes the session and its index entries, remembers why it ended (a tombstone) until the earlier of its
-- idle and absolute ends, and (marker_ttl > 0) marks its sid revoked so access tokens already issued stop working.
-- The log event says why (why, default reason) and whose, for event streams.
local function end_session(prefix, rec, reason, marker_ttl, why)
  redis.call('DEL', prefix .. 's:' .. rec.key)
  local sid_key = prefix .. 'sid:' .. rec.sid
  if redis.call('GET', sid_key) == rec.key then redis.call('DEL', sid_key) end
  redis.call('ZREM', prefix .. 'u:' .. rec.userId, rec.key)
  if rec.idpSid then redis.call('ZREM', idp_sid_index(prefix, rec.idpIss, rec.idpSid), rec.key) end
  if rec.tenant then redis.call('ZREM', tenant_index(prefix, rec.tenant), rec.key) end
  local tombstone = prefix .. 'ts:' .. rec.key
  redis.call('SET', tombstone, reason)
  -- Until the session would have idled out anyway: past that, "why it ended" no longer matters, and ended
  -- sessions must not pile up for the whole absolute lifetime.
  redis.call('PEXPIREAT', tombstone, math.min(tonumber(rec.idleExpiresAt), tonumber(rec.absoluteExpiresAt)))
  if marker_ttl > 0 then
    log_revocation(prefix, 'sid', rec.sid, marker_ttl, '0', true, {'u', rec.userId, 'w', why or reason})
  end
end

-- Drops index entries of sessions past their absolute end (their keys have expired): members are scored by it.
local function prune_index(user_index, now_str)
  redis.call('ZREMRANGEBYSCORE', user_index, '-inf', now_str)
end

-- The user's live sessions as {rec, flat}, except the one keyed 'skip'; prunes the rest (entries whose session is
-- gone are removed, expired sessions are ended as session_expired).
local function live_sessions(prefix, user_index, now, skip)
  local live = {}
  for _, key in ipairs(redis.call('ZRANGE', user_index, 0, -1)) do
    local flat = redis.call('HGETALL', prefix .. 's:' .. key)
    if #flat == 0 then
      redis.call('ZREM', user_index, key)
    elseif key ~= skip then
      local rec = to_map(flat)
      if is_expired(rec, now) then
        end_session(prefix, rec, 'session_expired', 0)
      else
        table.insert(live, {rec = rec, flat = flat})
      end
    end
  end
  return live
end

-- Ends every live session in an index that belongs(rec) accepts (with reason, marker TTL and the log's why), and
-- prunes the rest: entries whose session is gone or belongs elsewhere leave the index, expired sessions end as
-- session_expired. Returns the ended records (flat). Logout-all, back-channel logout and tenant revocation share it.
local function end_indexed_sessions(prefix, index, belongs, now, reason, marker_ttl, why)
  local ended = {}
  for _, key in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    local flat = redis.call('HGETALL', prefix .. 's:' .. key)
    if #flat == 0 then
      redis.call('ZREM', index, key)
    else
      local rec = to_map(flat)
      if not belongs(rec) then
        redis.call('ZREM', index, key)
      elseif is_expired(rec, now) then
        end_session(prefix, rec, 'session_expired', 0)
      else
        end_session(prefix, rec, reason, marker_ttl, why)
        table.insert(ended, flat)
      end
    end
  end
  return ended
end
`;

/**
 * createSession. KEYS: session, sid index, user index, tombstone.
 * ARGV: prefix, key, absoluteExpiresAt, log TTL ms ('0': no event), sid, userId, maxSessionsPerUser (0: no cap),
 * now, markerTtlMs, then the record's field/value pairs.
 * Atomic so the session, its sid index and its user index entry appear together: a concurrent
 * endAllUserSessions either sees all three or none; and so is its `session` event in the user's shard's log (event
 * streams tell the user's other devices). The event trims like sid events (it lives as long as they do). With a cap,
 * the user's never-refreshed sessions, then the least recently active, are ended (revoked, with their events) in the
 * same script, so the cap holds however many logins race. Returns the evicted records.
 * Every key expires at the session's absolute end; the user index at the latest absolute end
 * among its members (members are scored by absoluteExpiresAt).
 */
export const CREATE_SESSION =
  HELPERS +
  `
local session, sid_index, user_index, tombstone = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, key, absolute, log_ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local cap, now_str, marker_ttl = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local evicted = {}
if cap > 0 then
  prune_index(user_index, now_str)
  -- Only at the cap does it look at the sessions: O(cap), once per login beyond it.
  if redis.call('ZCARD', user_index) >= cap then
    local live = live_sessions(prefix, user_index, tonumber(now_str), key)
    -- Never-refreshed sessions (generation 0) first, then the least recently active, then the oldest (memory.ts too).
    table.sort(live, function(a, b)
      local ra, rb = a.rec.generation ~= '0', b.rec.generation ~= '0'
      if ra ~= rb then return rb end
      local la, lb = tonumber(a.rec.lastActiveAt), tonumber(b.rec.lastActiveAt)
      if la ~= lb then return la < lb end
      local ca, cb = tonumber(a.rec.createdAt), tonumber(b.rec.createdAt)
      if ca ~= cb then return ca < cb end
      return a.rec.sid < b.rec.sid
    end)
    for i = 1, #live - cap + 1 do
      end_session(prefix, live[i].rec, 'session_revoked', marker_ttl)
      table.insert(evicted, live[i].flat)
    end
  end
end
redis.call('DEL', session, tombstone)
redis.call('HSET', session, unpack(ARGV, 10))
redis.call('PEXPIREAT', session, absolute)
redis.call('SET', sid_index, key)
redis.call('PEXPIREAT', sid_index, absolute)
redis.call('ZADD', user_index, absolute, key)
local latest = redis.call('ZRANGE', user_index, -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', user_index, latest[2])
local idp = redis.call('HMGET', session, 'idpIss', 'idpSid')
if idp[1] and idp[2] then
  local idp_index = idp_sid_index(prefix, idp[1], idp[2])
  redis.call('ZADD', idp_index, absolute, key)
  local last = redis.call('ZRANGE', idp_index, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', idp_index, last[2])
end
local tenant = redis.call('HGET', session, 'tenant')
if tenant then
  local index = tenant_index(prefix, tenant)
  redis.call('ZADD', index, absolute, key)
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', index, last[2])
end
if log_ttl > 0 then
  log_revocation(prefix, 'session', ARGV[5], log_ttl, '0', true, {'u', ARGV[6]})
end
return evicted
`;

/**
 * rotate. KEYS: session, tombstone. The credential rule of session/credential-rule.ts, line by line.
 * ARGV: prefix, presented generation, presented hash, next hash, next sealed, now,
 *       graceMs, now + idleTimeoutMs, markerTtlMs.
 * Returns {'rotated', record} | {'replayed', record, sealed} | {'reuse_detected', record}
 *       | {'ended', reason or false} | {'mismatch'}.
 * Must be atomic: concurrent refreshes with the same credential must see exactly one rotation
 * (the others then see the previous generation and get the same successor), and a reuse must
 * end the session before any other refresh can act on it.
 */
export const ROTATE =
  HELPERS +
  `
local session, tombstone = KEYS[1], KEYS[2]
local prefix = ARGV[1]
local presented_gen, presented_hash = tonumber(ARGV[2]), ARGV[3]
local next_hash, next_sealed = ARGV[4], ARGV[5]
local now_str, grace_ms, idle_candidate = ARGV[6], tonumber(ARGV[7]), ARGV[8]
local now, marker_ttl = tonumber(now_str), tonumber(ARGV[9])

local flat = redis.call('HGETALL', session)
if #flat == 0 then
  return {'ended', redis.call('GET', tombstone)}
end
local rec = to_map(flat)

if is_expired(rec, now) then
  end_session(prefix, rec, 'session_expired', 0)
  return {'ended', 'session_expired'}
end

local gen = tonumber(rec.generation)

if presented_gen > gen then
  return {'mismatch'}
end

if presented_gen == gen then
  if presented_hash ~= rec.credentialHash then
    return {'mismatch'}
  end
  -- The grace window opens when the rotation really happens. A script that reaches Redis late (Redis paused, its
  -- caller already answered 503) must still leave the client, which never saw this successor, time to replay.
  local t = redis.call('TIME')
  local server_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local grace_until = string.format('%d', math.max(now, server_now) + grace_ms)
  local idle_until = idle_candidate
  if tonumber(idle_candidate) > tonumber(rec.absoluteExpiresAt) then
    idle_until = rec.absoluteExpiresAt
  end
  redis.call('HSET', session,
    'previousHash', rec.credentialHash,
    'credentialHash', next_hash,
    'generation', tostring(gen + 1),
    'successorSealed', next_sealed,
    'graceUntil', grace_until,
    'lastActiveAt', now_str,
    'idleExpiresAt', idle_until)
  return {'rotated', redis.call('HGETALL', session)}
end

if presented_gen == gen - 1 then
  if presented_hash ~= rec.previousHash then
    -- Not the credential this session issued for that generation: not ours.
    return {'mismatch'}
  end
  if now < tonumber(rec.graceUntil) and rec.successorSealed then
    return {'replayed', flat, rec.successorSealed}
  end
end

-- A superseded credential whose successor is already in use (or out of grace): theft.
end_session(prefix, rec, 'reuse_detected', marker_ttl)
return {'reuse_detected', flat}
`;

/**
 * endSession. KEYS: session. ARGV: prefix, reason, now, markerTtlMs.
 * Returns the ended record, or false when it was not live (an expired one is pruned as
 * `session_expired`). Atomic so a concurrent rotate cannot resurrect or re-end the session.
 */
export const END_SESSION =
  HELPERS +
  `
local prefix, reason, now, marker_ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return false end
local rec = to_map(flat)
if is_expired(rec, now) then
  end_session(prefix, rec, 'session_expired', 0)
  return false
end
end_session(prefix, rec, reason, marker_ttl)
return flat
`;

/**
 * endUserSessionBySid. KEYS: sid index. ARGV: prefix, userId, reason, now, markerTtlMs.
 * Like END_SESSION, addressed by sid; another user's session is left untouched (false).
 * Atomic so the ownership check and the delete see the same session.
 */
export const END_USER_SESSION_BY_SID =
  HELPERS +
  `
local prefix, user_id, reason = ARGV[1], ARGV[2], ARGV[3]
local now, marker_ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local key = redis.call('GET', KEYS[1])
if not key then return false end
local flat = redis.call('HGETALL', prefix .. 's:' .. key)
if #flat == 0 then return false end
local rec = to_map(flat)
if rec.userId ~= user_id then return false end
if is_expired(rec, now) then
  end_session(prefix, rec, 'session_expired', 0)
  return false
end
end_session(prefix, rec, reason, marker_ttl)
return flat
`;

/**
 * listUserSessions. KEYS: user index. ARGV: prefix, userId, now, limit (0: all).
 * Returns the live records among the `limit` newest index entries (unordered; the caller sorts) and prunes the
 * rest: index entries whose session is gone are removed, expired sessions are ended as `session_expired`.
 * Bounded: the index holds at most the cap (createSession evicts), and `limit` bounds it even for a user indexed
 * with more from before the cap applied.
 * Atomic so pruning never removes a session that a concurrent rotate just kept alive.
 */
export const LIST_USER_SESSIONS =
  HELPERS +
  `
local user_index = KEYS[1]
local prefix, user_id, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
prune_index(user_index, ARGV[3])
local live = {}
for _, key in ipairs(redis.call('ZRANGE', user_index, limit > 0 and -limit or 0, -1)) do
  local flat = redis.call('HGETALL', prefix .. 's:' .. key)
  if #flat == 0 then
    redis.call('ZREM', user_index, key)
  else
    local rec = to_map(flat)
    if rec.userId ~= user_id then
      redis.call('ZREM', user_index, key)
    elseif is_expired(rec, now) then
      end_session(prefix, rec, 'session_expired', 0)
    else
      table.insert(live, flat)
    end
  end
end
return live
`;

/**
 * endAllUserSessions. KEYS: user index, user revocation marker.
 * ARGV: prefix, userId, revokedAfter, now, markerTtlMs.
 * Ends every live session of the user as `session_revoked` (marking each sid), prunes the rest,
 * and raises `revoked_after` (never lowers it). Returns the ended records.
 * Must be atomic: a session created concurrently is either ended with the rest or untouched,
 * and no token can be issued between ending the sessions and setting `revoked_after`.
 */
export const END_ALL_USER_SESSIONS =
  HELPERS +
  `
local user_index, user_marker = KEYS[1], KEYS[2]
local prefix, user_id, revoked_after = ARGV[1], ARGV[2], ARGV[3]
local now, marker_ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
-- O(cap): createSession keeps the index at the cap. Every session in it is ended, however many there are.
prune_index(user_index, ARGV[4])
local ended = end_indexed_sessions(prefix, user_index, function(rec) return rec.userId == user_id end, now, 'session_revoked', marker_ttl, 'logout_all')
if marker_ttl > 0 then
  local current = redis.call('GET', user_marker)
  if (not current) or tonumber(current) < tonumber(revoked_after) then
    redis.call('SET', user_marker, revoked_after, 'PX', marker_ttl)
  elseif redis.call('PTTL', user_marker) < marker_ttl then
    redis.call('PEXPIRE', user_marker, marker_ttl)
  end
  log_revocation(prefix, 'user', user_id, marker_ttl, redis.call('GET', user_marker), true)
end
return ended
`;

/**
 * putKeyRing. KEYS: key ring version, key ring blob.
 * ARGV: '1' when a version is expected ('0': only if none exists), expected version, next version, next sealed,
 * shard 0's prefix (whose log gets the event), the event's TTL.
 * Returns 1 when written, 0 when the current version differs.
 * Atomic compare-and-set, so two instances rotating keys at once cannot both win.
 */
export const PUT_KEY_RING =
  LOG_REVOCATION +
  `
local version_key, sealed_key = KEYS[1], KEYS[2]
local current = redis.call('GET', version_key)
if ARGV[1] == '0' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
redis.call('SET', version_key, ARGV[3])
redis.call('SET', sealed_key, ARGV[4])
-- Wakes every guard so it reloads the ring at once (an emergency rotation must reach them all).
log_revocation(ARGV[5], 'keyring', ARGV[3], tonumber(ARGV[6]), '0', false)
return 1
`;

/**
 * revokeJti. KEYS: the shard's revocation log. ARGV: shard prefix, jti, ttlMs.
 * The jti deny list lives in the log alone (no key per jti): one stream entry costs about a third of a key with
 * its own TTL, and guards read the log anyway.
 */
export const REVOKE_JTI =
  LOG_REVOCATION +
  `
log_revocation(ARGV[1], 'jti', ARGV[2], tonumber(ARGV[3]), '0', false)
return 1
`;

/**
 * endSessionsByIdpSid. KEYS: the shard's index for (iss, idpSid). ARGV: prefix, iss, idpSid, reason, now, markerTtlMs.
 * Ends every live session of this shard that the IdP session started (each like END_SESSION) and prunes the rest.
 * Returns the ended records. Runs once per shard (the IdP sid does not say which user, hence which shard).
 */
export const END_SESSIONS_BY_IDP_SID =
  HELPERS +
  `
local index = KEYS[1]
local prefix, iss, idp_sid, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, marker_ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
return end_indexed_sessions(prefix, index, function(rec) return rec.idpIss == iss and rec.idpSid == idp_sid end, now, reason, marker_ttl)
`;

/**
 * revokeTenant, step 1. KEYS: the tenant's marker. ARGV: the tenant's shard prefix, tenant, revokedAfter, markerTtlMs.
 * Raises the tenant's `revoked_after` (never lowers it) and appends its `tenant` event to the shard's log.
 */
export const MARK_TENANT_REVOKED =
  LOG_REVOCATION +
  `
local marker = KEYS[1]
local prefix, tenant, revoked_after, marker_ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local current = redis.call('GET', marker)
if (not current) or tonumber(current) < tonumber(revoked_after) then
  redis.call('SET', marker, revoked_after, 'PX', marker_ttl)
elseif redis.call('PTTL', marker) < marker_ttl then
  redis.call('PEXPIRE', marker, marker_ttl)
end
log_revocation(prefix, 'tenant', tenant, marker_ttl, redis.call('GET', marker), true)
return 1
`;

/**
 * revokeTenant, step 2. KEYS: the shard's index of the tenant. ARGV: prefix, tenant, now, markerTtlMs.
 * Ends every live session of this shard whose tenant it is (each like END_SESSION, reason `session_revoked`) and
 * prunes the rest. Returns the ended records. Runs once per shard (a tenant spans users, hence shards).
 */
export const END_TENANT_SESSIONS =
  HELPERS +
  `
local index = KEYS[1]
local prefix, tenant, now, marker_ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
return end_indexed_sessions(prefix, index, function(rec) return rec.tenant == tenant end, now, 'session_revoked', marker_ttl)
`;

/**
 * updateIdpTokens. KEYS: session. ARGV: now, refresh token sealed, ID token sealed, IdP access expiry ('' deletes a field).
 * Returns 1 when a live OIDC session was updated, 0 otherwise (never recreates a session that ended meanwhile).
 */
export const UPDATE_IDP_TOKENS = `
local session = KEYS[1]
local now = tonumber(ARGV[1])
local rec = redis.call('HMGET', session, 'idpIss', 'idleExpiresAt', 'absoluteExpiresAt')
if not rec[1] or now >= tonumber(rec[2]) or now >= tonumber(rec[3]) then return 0 end
local names = {'idpRefreshTokenSealed', 'idpIdTokenSealed', 'idpAccessExpiresAt'}
for i, name in ipairs(names) do
  local value = ARGV[i + 1]
  if value == '' then redis.call('HDEL', session, name) else redis.call('HSET', session, name, value) end
end
return 1
`;

/** useOnce. KEYS: the id's key. ARGV: ttlMs. 1 the first time, 0 while the key lives. */
export const USE_ONCE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
`;
