import { luaScript } from './redis-lua-script.js';

/**
 * The Lua scripts of the Redis session store (`redis.ts`), registered with ioredis `defineCommand`
 * (redis-script-commands.ts).
 *
 * Every script that reads a session and then writes depending on what it read runs in Redis
 * as one script, because Redis runs a script to completion before serving any other client:
 * two BFF instances can never interleave between the read and the write.
 *
 * Conventions shared by all scripts:
 * - KEYS and ARGV are named (redis-lua-script.ts): each script's Lua opens with generated `local` bindings
 *   (`marker_ttl = tonumber(ARGV[n])`), and `redis.ts` passes them by name. The declaration is the only place a
 *   position is decided.
 * - The scripts that touch sessions take their shard's key prefix `P{<tag>}` as the `prefix` argument (see
 *   redis-keys.ts). Keys derived from a record's contents (sid, userId, IdP sid, tenant, the user's other sessions)
 *   are built inside the script from it, so they share the declared keys' hash tag: every script touches one
 *   Cluster slot (`useOnce` touches its one untagged key).
 * - A session is a hash under `<shard>s:<key>` whose fields are the `DeviceSessionRecord`
 *   fields as strings; `previousHash` and `successorSealed` are absent while null.
 * - Numbers that get written are passed in from JavaScript as decimal strings and written
 *   verbatim, so Lua's number formatting never touches epoch milliseconds.
 * - A record goes back to JavaScript as the flat `HGETALL` array.
 * - A Lua error is a bug (of a script, or of data it did not expect), never an outage: the store reports it as
 *   such, not as StoreUnavailableError (redis.ts).
 *
 * Key layout within a shard `S` = `P{<tag>}`: `S s:<key>`, `S sid:<sid>`, `S ts:<key>` (why a session ended),
 * `S u:<userId>` (the user's sessions), `S ip:<sha1(iss \n idpSid)>` (sessions an IdP session started),
 * `S tn:<sha1(tenant)>` (a tenant's sessions in this shard), `S ru:<userId>` (the user's `revoked_after`, kept so it
 * never moves backwards), `S rt:<sha1(tenant)>` (a tenant's `revoked_after`, in the tenant's own shard), `S al` (every session of the shard,
 * scored by absolute end), `S as` (what a revokeAllSessions still has to end), `S rv` (the shard's revocation log: jti,
 * sid, user, tenant, all, session and key-ring events); shard 0 also holds `S kr:sealed`, `S kr:version` and `S ra` (the
 * global `revoked_after`). Outside the shards: `P once:<sha256(id)>` (useOnce), `P tx:<name>:<id>` (login transactions) and
 * `P rl:<name>:...` (rate limits).
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

/** Raises a `revoked_after` marker (never lowers it) and keeps it alive at least marker_ttl; answers its value. */
const RAISE_MARKER = `
local function raise_marker(marker, revoked_after, marker_ttl)
  local current = redis.call('GET', marker)
  if (not current) or tonumber(current) < tonumber(revoked_after) then
    redis.call('SET', marker, revoked_after, 'PX', marker_ttl)
  elseif redis.call('PTTL', marker) < marker_ttl then
    redis.call('PEXPIRE', marker, marker_ttl)
  end
  return redis.call('GET', marker)
end
`;

/** Helpers prepended to the scripts that touch sessions. */
const HELPERS =
  LOG_REVOCATION +
  IDP_SID_INDEX +
  TENANT_INDEX +
  RAISE_MARKER +
  `
-- Adds a session to an index scored by its absolute end; the index expires with its latest member.
local function add_to_index(index, absolute, key)
  redis.call('ZADD', index, absolute, key)
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', index, last[2])
end

local function to_map(flat)
  local m = {}
  for i = 1, #flat, 2 do m[flat[i]] = flat[i + 1] end
  return m
end

-- A flat HGETALL list with the HSET pairs 'updates' applied: what HGETALL would now answer, without asking (a
-- command inside a script has its whole reply encoded and parsed back into Lua, a record's worth on every refresh).
local function with_updates(flat, updates)
  local at = {}
  for i = 1, #flat, 2 do at[flat[i]] = i + 1 end
  for i = 1, #updates, 2 do
    local position = at[updates[i]]
    if position then
      flat[position] = updates[i + 1]
    else
      table.insert(flat, updates[i])
      table.insert(flat, updates[i + 1])
    end
  end
  return flat
end

local function is_expired(rec, now)
  return now >= tonumber(rec.idleExpiresAt) or now >= tonumber(rec.absoluteExpiresAt)
end

-- Which end an expired session reached (the absolute one when both).
local function expiry_reason(rec, now)
  if now >= tonumber(rec.absoluteExpiresAt) then return 'absolute' end
  return 'idle'
end

-- Deletes the session and its index entries, remembers why it ended (a tombstone) until the earlier of its
-- idle and absolute ends, and (marker_ttl > 0) marks its sid revoked so access tokens already issued stop working.
-- The log event says why and whose, for event streams and the operators' feed.
local function end_session(prefix, rec, reason, marker_ttl)
  redis.call('DEL', prefix .. 's:' .. rec.key)
  local sid_key = prefix .. 'sid:' .. rec.sid
  if redis.call('GET', sid_key) == rec.key then redis.call('DEL', sid_key) end
  redis.call('ZREM', prefix .. 'u:' .. rec.userId, rec.key)
  if rec.idpSid then redis.call('ZREM', idp_sid_index(prefix, rec.idpIss, rec.idpSid), rec.key) end
  if rec.tenant then redis.call('ZREM', tenant_index(prefix, rec.tenant), rec.key) end
  redis.call('ZREM', prefix .. 'al', rec.key)
  local tombstone = prefix .. 'ts:' .. rec.key
  redis.call('SET', tombstone, reason)
  -- Until the session would have idled out anyway: past that, "why it ended" no longer matters, and ended
  -- sessions must not pile up for the whole absolute lifetime.
  redis.call('PEXPIREAT', tombstone, math.min(tonumber(rec.idleExpiresAt), tonumber(rec.absoluteExpiresAt)))
  if marker_ttl > 0 then
    log_revocation(prefix, 'sid', rec.sid, marker_ttl, '0', true, {'u', rec.userId, 'w', reason})
  end
end

-- Ends a session for 'reason' when it is live; one already past its idle or absolute end is ended as such (no
-- marker: its tokens cannot outlive it) and false is returned.
local function end_if_live(prefix, rec, reason, now, marker_ttl)
  if is_expired(rec, now) then
    end_session(prefix, rec, expiry_reason(rec, now), 0)
    return false
  end
  end_session(prefix, rec, reason, marker_ttl)
  return true
end

-- Drops index entries of sessions past their absolute end (their keys have expired): members are scored by it.
local function prune_index(user_index, now_str)
  redis.call('ZREMRANGEBYSCORE', user_index, '-inf', now_str)
end

-- The user's live sessions as {rec, flat}, except the one keyed 'skip'; prunes the rest (entries whose session is
-- gone are removed, expired sessions are ended as idle or absolute).
local function live_sessions(prefix, user_index, now, skip)
  local live = {}
  for _, key in ipairs(redis.call('ZRANGE', user_index, 0, -1)) do
    local flat = redis.call('HGETALL', prefix .. 's:' .. key)
    if #flat == 0 then
      redis.call('ZREM', user_index, key)
    elseif key ~= skip then
      local rec = to_map(flat)
      if is_expired(rec, now) then
        end_session(prefix, rec, expiry_reason(rec, now), 0)
      else
        table.insert(live, {rec = rec, flat = flat})
      end
    end
  end
  return live
end

-- Ends every live session in an index that belongs(rec) accepts (with reason and marker TTL), and prunes the rest:
-- entries whose session is gone or belongs elsewhere leave the index, expired sessions end as idle or absolute.
-- Returns the ended records (flat). Logout-all, back-channel logout and tenant revocation share it.
local function end_indexed_sessions(prefix, index, belongs, now, reason, marker_ttl)
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
        end_session(prefix, rec, expiry_reason(rec, now), 0)
      else
        end_session(prefix, rec, reason, marker_ttl)
        table.insert(ended, flat)
      end
    end
  end
  return ended
end
`;

/**
 * createSession: writes the record (`fields`: its field/value pairs); `logTtl` is the event's TTL ('0': no event),
 * `cap` maxSessionsPerUser ('0': no cap).
 * Atomic so the session, its sid index and its user index entry appear together: a concurrent
 * endAllUserSessions either sees all three or none; and so is its `session` event in the user's shard's log (event
 * streams tell the user's other devices). The event trims like sid events (it lives as long as they do). With a cap,
 * the user's never-refreshed sessions, then the least recently active, are ended (revoked, with their events) in the
 * same script, so the cap holds however many logins race. Returns the evicted records.
 * Every key expires at the session's absolute end; the user index at the latest absolute end
 * among its members (members are scored by absoluteExpiresAt).
 */
export const CREATE_SESSION = luaScript({
  name: 'latchkeyCreateSession',
  keys: ['session', 'sidIndex', 'userIndex', 'tombstone'],
  argv: {
    prefix: 'string',
    key: 'string',
    absolute: 'string',
    logTtl: 'number',
    sid: 'string',
    userId: 'string',
    cap: 'number',
    nowStr: 'string',
    markerTtl: 'number',
  },
  rest: 'fields',
  helpers: HELPERS,
  body: `
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
      local la, lb = tonumber(a.rec.lastActivityAt), tonumber(b.rec.lastActivityAt)
      if la ~= lb then return la < lb end
      local ca, cb = tonumber(a.rec.createdAt), tonumber(b.rec.createdAt)
      if ca ~= cb then return ca < cb end
      return a.rec.sid < b.rec.sid
    end)
    for i = 1, #live - cap + 1 do
      end_session(prefix, live[i].rec, 'cap_evicted', marker_ttl)
      table.insert(evicted, live[i].flat)
    end
  end
end
redis.call('DEL', session, tombstone)
redis.call('HSET', session, unpack(fields))
redis.call('PEXPIREAT', session, absolute)
redis.call('SET', sid_index, key)
redis.call('PEXPIREAT', sid_index, absolute)
add_to_index(user_index, absolute, key)
local idp = redis.call('HMGET', session, 'idpIss', 'idpSid')
if idp[1] and idp[2] then add_to_index(idp_sid_index(prefix, idp[1], idp[2]), absolute, key) end
local tenant = redis.call('HGET', session, 'tenant')
if tenant then add_to_index(tenant_index(prefix, tenant), absolute, key) end
-- The shard's index of every session (revokeAllSessions), pruned of entries past their absolute end on Redis's clock
-- (their keys have expired) so that steady logins do not grow it.
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', prefix .. 'al', '-inf', string.format('(%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
add_to_index(prefix .. 'al', absolute, key)
if log_ttl > 0 then
  log_revocation(prefix, 'session', sid, log_ttl, '0', true, {'u', user_id})
end
return evicted
`,
});

/**
 * rotate (the credential rule of session/credential-rule.ts, line by line): the presented generation and hash, the
 * successor's hash and sealed value, `activityAt` the latest real activity the caller knows of, `idleMs` the idle timeout.
 * Returns {'rotated', record} | {'replayed', record, sealed} | {'reuse_detected', record}
 *       | {'expired', 'idle' or 'absolute', record} | {'ended', reason or false} | {'mismatch'}.
 * A session past its end is ended here (sid marked revoked, its event in the log) and answers 'expired'. A rotation
 * moves the idle end only as far as the activity goes: a timer that refreshes an unused page keeps nothing alive.
 * Must be atomic: concurrent refreshes with the same credential must see exactly one rotation
 * (the others then see the previous generation and get the same successor), and a reuse must
 * end the session before any other refresh can act on it.
 */
export const ROTATE = luaScript({
  name: 'latchkeyRotate',
  keys: ['session', 'tombstone'],
  argv: {
    prefix: 'string',
    presentedGen: 'number',
    presentedHash: 'string',
    nextHash: 'string',
    nextSealed: 'string',
    nowStr: 'string',
    graceMs: 'number',
    activityAt: 'string',
    idleMs: 'string',
    markerTtl: 'number',
  },
  helpers: HELPERS,
  body: `
local now = tonumber(now_str)

local flat = redis.call('HGETALL', session)
if #flat == 0 then
  return {'ended', redis.call('GET', tombstone)}
end
local rec = to_map(flat)

if is_expired(rec, now) then
  local reason = expiry_reason(rec, now)
  end_session(prefix, rec, reason, marker_ttl)
  return {'expired', reason, flat}
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
  -- Activity never moves backwards, nor past now. Integers below 2^53: exact in Lua's doubles, printed with %d.
  local activity = math.min(now, math.max(tonumber(rec.lastActivityAt), tonumber(activity_at)))
  local idle_until = string.format('%d', math.min(activity + tonumber(idle_ms), tonumber(rec.absoluteExpiresAt)))
  local updates = {
    'previousHash', rec.credentialHash,
    'credentialHash', next_hash,
    'generation', tostring(gen + 1),
    'successorSealed', next_sealed,
    'graceUntil', grace_until,
    'rotatedAt', now_str,
    'lastActivityAt', string.format('%d', activity),
    'idleExpiresAt', idle_until}
  redis.call('HSET', session, unpack(updates))
  return {'rotated', with_updates(flat, updates)}
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
`,
});

/**
 * endSession.
 * Returns the ended record, or false when it was not live (an expired one is pruned as
 * `idle` or `absolute`). Atomic so a concurrent rotate cannot resurrect or re-end the session.
 */
export const END_SESSION = luaScript({
  name: 'latchkeyEndSession',
  keys: ['session'],
  argv: { prefix: 'string', reason: 'string', now: 'number', markerTtl: 'number' },
  helpers: HELPERS,
  body: `
local flat = redis.call('HGETALL', session)
if #flat == 0 then return false end
if not end_if_live(prefix, to_map(flat), reason, now, marker_ttl) then return false end
return flat
`,
});

/**
 * endUserSessionBySid.
 * Like END_SESSION, addressed by sid; another user's session is left untouched (false).
 * Atomic so the ownership check and the delete see the same session.
 */
export const END_USER_SESSION_BY_SID = luaScript({
  name: 'latchkeyEndUserSessionBySid',
  keys: ['sidIndex'],
  argv: { prefix: 'string', userId: 'string', reason: 'string', now: 'number', markerTtl: 'number' },
  helpers: HELPERS,
  body: `
local key = redis.call('GET', sid_index)
if not key then return false end
local flat = redis.call('HGETALL', prefix .. 's:' .. key)
if #flat == 0 then return false end
local rec = to_map(flat)
if rec.userId ~= user_id then return false end
if not end_if_live(prefix, rec, reason, now, marker_ttl) then return false end
return flat
`,
});

/**
 * listUserSessions. `limit` '0': all.
 * Returns the live records among the `limit` newest index entries (unordered; the caller sorts) and prunes the
 * rest: index entries whose session is gone are removed, expired sessions are ended as `idle` or `absolute`.
 * Bounded: the index holds at most the cap (createSession evicts), and `limit` bounds it even for a user indexed
 * with more from before the cap applied.
 * Atomic so pruning never removes a session that a concurrent rotate just kept alive.
 */
export const LIST_USER_SESSIONS = luaScript({
  name: 'latchkeyListUserSessions',
  keys: ['userIndex'],
  argv: { prefix: 'string', userId: 'string', nowStr: 'string', limit: 'number' },
  helpers: HELPERS,
  body: `
local now = tonumber(now_str)
prune_index(user_index, now_str)
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
      end_session(prefix, rec, expiry_reason(rec, now), 0)
    else
      table.insert(live, flat)
    end
  end
end
return live
`,
});

/**
 * endAllUserSessions.
 * Ends every live session of the user with `reason` (marking each sid), prunes the rest,
 * and raises `revoked_after` (never lowers it). Returns the ended records.
 * Must be atomic: a session created concurrently is either ended with the rest or untouched,
 * and no token can be issued between ending the sessions and setting `revoked_after`.
 */
export const END_ALL_USER_SESSIONS = luaScript({
  name: 'latchkeyEndAllUserSessions',
  keys: ['userIndex', 'userMarker'],
  argv: { prefix: 'string', userId: 'string', reason: 'string', revokedAfter: 'string', nowStr: 'string', markerTtl: 'number' },
  helpers: HELPERS,
  body: `
local now = tonumber(now_str)
-- O(cap): createSession keeps the index at the cap. Every session in it is ended, however many there are.
prune_index(user_index, now_str)
local ended = end_indexed_sessions(prefix, user_index, function(rec) return rec.userId == user_id end, now, reason, marker_ttl)
if marker_ttl > 0 then
  log_revocation(prefix, 'user', user_id, marker_ttl, raise_marker(user_marker, revoked_after, marker_ttl), true)
end
return ended
`,
});

/**
 * endOtherUserSessions (logout-others). `keep`: the caller's session, in the user's shard like `userIndex`.
 * Returns false, changing nothing, when `keep` is not a live session of the user; otherwise ends every other live
 * session of the user (each like END_SESSION, reason `logout_others`) and prunes the rest. Returns the ended records.
 * Atomic: a device cannot refresh between the check and the end, and a session created concurrently is either ended
 * with the rest or untouched.
 */
export const END_OTHER_USER_SESSIONS = luaScript({
  name: 'latchkeyEndOtherUserSessions',
  keys: ['userIndex', 'keep'],
  argv: { prefix: 'string', userId: 'string', keepKey: 'string', nowStr: 'string', markerTtl: 'number' },
  helpers: HELPERS,
  body: `
local now = tonumber(now_str)
local kept = redis.call('HGETALL', keep)
if #kept == 0 then return false end
local rec = to_map(kept)
if rec.userId ~= user_id or rec.key ~= keep_key then return false end
if is_expired(rec, now) then
  end_session(prefix, rec, expiry_reason(rec, now), 0)
  return false
end
prune_index(user_index, now_str)
local ended = {}
for _, other in ipairs(live_sessions(prefix, user_index, now, keep_key)) do
  if other.rec.userId == user_id then
    end_session(prefix, other.rec, 'logout_others', marker_ttl)
    table.insert(ended, other.flat)
  else
    redis.call('ZREM', user_index, other.rec.key)
  end
end
return ended
`,
});

/**
 * revokeAllSessions, step 1. `marker`: the global `revoked_after`, in shard 0 (whose log gets the event).
 * Raises it (never lowers it) and appends its `all` event.
 */
export const MARK_ALL_REVOKED = luaScript({
  name: 'latchkeyMarkAllRevoked',
  keys: ['marker'],
  argv: { prefix: 'string', revokedAfter: 'string', markerTtl: 'number' },
  helpers: LOG_REVOCATION + RAISE_MARKER,
  body: `
log_revocation(prefix, 'all', '*', marker_ttl, raise_marker(marker, revoked_after, marker_ttl), true)
return 1
`,
});

/**
 * revokeAllSessions, step 2, once per shard and repeated until done. `index`: the shard's index of every session
 * (`S al`); `sweep`: what is left to end (`S as`). With `begin` '1' the index moves into the sweep set first, so
 * sessions created from then on (a new login right after the revocation) are not in it and survive. Each call ends at
 * most `limit` sessions of the sweep set (each like END_SESSION, reason `all_revoked`), removing every entry it
 * looks at, so Redis is never blocked for long and the loop ends. Returns {ended, left in the sweep set}.
 */
export const END_ALL_SESSIONS_BATCH = luaScript({
  name: 'latchkeyEndAllSessionsBatch',
  keys: ['index', 'sweep'],
  argv: { prefix: 'string', begin: 'string', now: 'number', markerTtl: 'number', limit: 'number' },
  helpers: HELPERS,
  body: `
if begin == '1' and redis.call('EXISTS', index) == 1 then
  redis.call('ZUNIONSTORE', sweep, 2, sweep, index, 'AGGREGATE', 'MAX')
  redis.call('DEL', index)
  local last = redis.call('ZRANGE', sweep, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', sweep, last[2])
end
local ended = 0
for _, key in ipairs(redis.call('ZRANGE', sweep, 0, limit - 1)) do
  redis.call('ZREM', sweep, key)
  local flat = redis.call('HGETALL', prefix .. 's:' .. key)
  if #flat > 0 then
    local rec = to_map(flat)
    if is_expired(rec, now) then
      end_session(prefix, rec, expiry_reason(rec, now), 0)
    else
      end_session(prefix, rec, 'all_revoked', marker_ttl)
      ended = ended + 1
    end
  end
end
return {ended, redis.call('ZCARD', sweep)}
`,
});

/**
 * putKeyRing. `expects` '1' when `expectedVersion` is expected ('0': only if none exists); `logPrefix` is shard
 * 0's prefix (whose log gets the event).
 * Returns 1 when written, 0 when the current version differs.
 * Atomic compare-and-set, so two instances rotating keys at once cannot both win.
 */
export const PUT_KEY_RING = luaScript({
  name: 'latchkeyPutKeyRing',
  keys: ['versionKey', 'sealedKey'],
  argv: { expects: 'string', expectedVersion: 'string', nextVersion: 'string', nextSealed: 'string', logPrefix: 'string', eventTtl: 'number' },
  helpers: LOG_REVOCATION,
  body: `
local current = redis.call('GET', version_key)
if expects == '0' then
  if current then return 0 end
elseif current ~= expected_version then
  return 0
end
redis.call('SET', version_key, next_version)
redis.call('SET', sealed_key, next_sealed)
-- Wakes every guard so it reloads the ring at once (an emergency rotation must reach them all).
log_revocation(log_prefix, 'keyring', next_version, event_ttl, '0', false)
return 1
`,
});

/**
 * revokeJti. `log` is the shard's revocation log (declared for the Cluster slot; written through `prefix`).
 * The jti deny list lives in the log alone (no key per jti): one stream entry costs about a third of a key with
 * its own TTL, and guards read the log anyway.
 */
export const REVOKE_JTI = luaScript({
  name: 'latchkeyRevokeJti',
  keys: ['log'],
  argv: { prefix: 'string', jti: 'string', ttl: 'number' },
  helpers: LOG_REVOCATION,
  body: `
log_revocation(prefix, 'jti', jti, ttl, '0', false)
return 1
`,
});

/**
 * endSessionsByIdpSid. `index`: the shard's index for (iss, idpSid).
 * Ends every live session of this shard that the IdP session started (each like END_SESSION) and prunes the rest.
 * Returns the ended records. Runs once per shard (the IdP sid does not say which user, hence which shard).
 */
export const END_SESSIONS_BY_IDP_SID = luaScript({
  name: 'latchkeyEndSessionsByIdpSid',
  keys: ['index'],
  argv: { prefix: 'string', iss: 'string', idpSid: 'string', reason: 'string', now: 'number', markerTtl: 'number' },
  helpers: HELPERS,
  body: `
return end_indexed_sessions(prefix, index, function(rec) return rec.idpIss == iss and rec.idpSid == idp_sid end, now, reason, marker_ttl)
`,
});

/**
 * revokeTenant, step 1. `marker` and `prefix` are the tenant's own shard's.
 * Raises the tenant's `revoked_after` (never lowers it) and appends its `tenant` event to the shard's log.
 */
export const MARK_TENANT_REVOKED = luaScript({
  name: 'latchkeyMarkTenantRevoked',
  keys: ['marker'],
  argv: { prefix: 'string', tenant: 'string', revokedAfter: 'string', markerTtl: 'number' },
  helpers: LOG_REVOCATION + RAISE_MARKER,
  body: `
log_revocation(prefix, 'tenant', tenant, marker_ttl, raise_marker(marker, revoked_after, marker_ttl), true)
return 1
`,
});

/**
 * revokeTenant, step 2. `index`: the shard's index of the tenant.
 * Ends every live session of this shard whose tenant it is (each like END_SESSION, reason `tenant_revoked`) and
 * prunes the rest. Returns the ended records. Runs once per shard (a tenant spans users, hence shards).
 */
export const END_TENANT_SESSIONS = luaScript({
  name: 'latchkeyEndTenantSessions',
  keys: ['index'],
  argv: { prefix: 'string', tenant: 'string', now: 'number', markerTtl: 'number' },
  helpers: HELPERS,
  body: `
return end_indexed_sessions(prefix, index, function(rec) return rec.tenant == tenant end, now, 'tenant_revoked', marker_ttl)
`,
});

/**
 * updateIdpTokens. An empty value ('') deletes its field. Ends any renewal claim (claimIdpRenewal): this is the
 * renewal's write.
 * Returns 1 when a live OIDC session was updated, 0 otherwise (never recreates a session that ended meanwhile).
 */
export const UPDATE_IDP_TOKENS = luaScript({
  name: 'latchkeyUpdateIdpTokens',
  keys: ['session'],
  argv: { now: 'number', refreshTokenSealed: 'string', idTokenSealed: 'string', accessTokenSealed: 'string', accessExpiresAt: 'string' },
  body: `
local rec = redis.call('HMGET', session, 'idpIss', 'idleExpiresAt', 'absoluteExpiresAt')
if not rec[1] or now >= tonumber(rec[2]) or now >= tonumber(rec[3]) then return 0 end
local fields = {
  idpRefreshTokenSealed = refresh_token_sealed,
  idpIdTokenSealed = id_token_sealed,
  idpAccessTokenSealed = access_token_sealed,
  idpAccessExpiresAt = access_expires_at,
}
for name, value in pairs(fields) do
  if value == '' then redis.call('HDEL', session, name) else redis.call('HSET', session, name, value) end
end
redis.call('HDEL', session, 'idpRenewHolder', 'idpRenewUntil')
return 1
`,
});

/**
 * claimIdpRenewal: a compare-and-set on the session's IdP link (`idpAccessExpiresAt` still the one the caller saw) and
 * a lease in the session's own hash (`idpRenewHolder`, `idpRenewUntil`), so it lives and dies with the session and
 * sits in its slot. `seen` is compared as the decimal string written by updateIdpTokens/createSession.
 */
export const CLAIM_IDP_RENEWAL = luaScript({
  name: 'latchkeyClaimIdpRenewal',
  keys: ['session'],
  argv: { holder: 'string', seen: 'string', now: 'number', leaseUntil: 'string' },
  body: `
local rec = redis.call('HMGET', session, 'idpIss', 'idleExpiresAt', 'absoluteExpiresAt', 'idpAccessExpiresAt', 'idpRenewUntil')
if not rec[1] or now >= tonumber(rec[2]) or now >= tonumber(rec[3]) then return 'gone' end
if rec[4] ~= seen then return 'changed' end
if rec[5] and tonumber(rec[5]) > now then return 'busy' end
redis.call('HSET', session, 'idpRenewHolder', holder, 'idpRenewUntil', lease_until)
return 'claimed'
`,
});

/** releaseIdpRenewal: drops the claim only when `holder` still holds it. */
export const RELEASE_IDP_RENEWAL = luaScript({
  name: 'latchkeyReleaseIdpRenewal',
  keys: ['session'],
  argv: { holder: 'string' },
  body: `
if redis.call('HGET', session, 'idpRenewHolder') == holder then redis.call('HDEL', session, 'idpRenewHolder', 'idpRenewUntil') end
return 1
`,
});

/**
 * restampSession: a re-authentication's `authTime`, `acr`, `amr` (an empty value deletes its field) and, when
 * `hasIdp` is '1' on a session the IdP started, its IdP token fields (as updateIdpTokens). `sidIndex`: the user's
 * shard's sid index. Returns the updated record (flat), or false when the sid is not a live session of `userId`.
 */
export const RESTAMP_SESSION = luaScript({
  name: 'latchkeyRestampSession',
  keys: ['sidIndex'],
  argv: {
    prefix: 'string',
    userId: 'string',
    now: 'number',
    authTime: 'string',
    acr: 'string',
    amr: 'string',
    hasIdp: 'string',
    refreshTokenSealed: 'string',
    idTokenSealed: 'string',
    accessTokenSealed: 'string',
    accessExpiresAt: 'string',
  },
  helpers: HELPERS,
  body: `
local key = redis.call('GET', sid_index)
if not key then return false end
local session = prefix .. 's:' .. key
local flat = redis.call('HGETALL', session)
if #flat == 0 then return false end
local rec = to_map(flat)
if rec.userId ~= user_id or is_expired(rec, now) then return false end
local fields = {authTime = auth_time, acr = acr, amr = amr}
if has_idp == '1' and rec.idpIss then
  fields.idpRefreshTokenSealed = refresh_token_sealed
  fields.idpIdTokenSealed = id_token_sealed
  fields.idpAccessTokenSealed = access_token_sealed
  fields.idpAccessExpiresAt = access_expires_at
  -- As updateIdpTokens: fresh IdP tokens end any renewal claim on the old ones.
  redis.call('HDEL', session, 'idpRenewHolder', 'idpRenewUntil')
end
for name, value in pairs(fields) do
  if value == '' then redis.call('HDEL', session, name) else redis.call('HSET', session, name, value) end
end
return redis.call('HGETALL', session)
`,
});

/** useOnce. 1 the first time, 0 while the key lives. */
export const USE_ONCE = luaScript({
  name: 'latchkeyUseOnce',
  keys: ['once'],
  argv: { ttlMs: 'string' },
  body: `
if redis.call('SET', once, '1', 'NX', 'PX', ttl_ms) then return 1 end
return 0
`,
});

/** Every script, as a store registers them. */
export const SCRIPTS = [
  CREATE_SESSION,
  ROTATE,
  END_SESSION,
  END_USER_SESSION_BY_SID,
  LIST_USER_SESSIONS,
  END_ALL_USER_SESSIONS,
  END_OTHER_USER_SESSIONS,
  MARK_ALL_REVOKED,
  END_ALL_SESSIONS_BATCH,
  PUT_KEY_RING,
  REVOKE_JTI,
  END_SESSIONS_BY_IDP_SID,
  MARK_TENANT_REVOKED,
  END_TENANT_SESSIONS,
  UPDATE_IDP_TOKENS,
  CLAIM_IDP_RENEWAL,
  RELEASE_IDP_RENEWAL,
  RESTAMP_SESSION,
  USE_ONCE,
] as const;
