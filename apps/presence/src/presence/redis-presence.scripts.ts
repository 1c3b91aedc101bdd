/**
 * Lua scripts of RedisPresenceStore. Each store method is one script, so each is atomic against every other
 * call from every replica. ARGV[1] is always the key prefix ("<prefix>:presence:"). Keys:
 *
 *   P..'peer:'..m      STRING  JSON PresenceState of member m; TTL = remaining lease + retention (backstop).
 *                              Its lease_expires_at may be stale: the score in 'leases' is authoritative.
 *   P..'session:'..sid SET     members of a session             TTL extended by every lease renewal
 *   P..'node:'..nid    HASH    member -> user_id, held by a node TTL extended by every lease renewal
 *   P..'leases'        ZSET    member -> lease_expires_at       swept by claimExpired
 *   P..'typing'        ZSET    member -> typing.until           swept by claimExpiredTyping
 *   P..'stamp'         STRING  counter for selection_version    one key, bounded
 *   P..'applied:'..d   STRING  applied version of document d    TTL = retention, renewed by each step
 *   (outbox key)       ZSET    the ExpiryOutbox's (expiry-outbox.ts); claimExpired adds to it
 *
 * A document member d is the JSON text ["<session_id>","<doc_id>"], built by TypeScript like m.
 *
 * A member m is the JSON text ["<session_id>","<peer_id>"], built only by TypeScript (cjson would escape
 * differently) and decoded here when a script needs the session id.
 *
 * Invariants kept by every script: a stored state's member is in the session and node indexes of that
 * state and in 'leases' with score lease_expires_at; it is in 'typing' iff state.typing is not null (until it
 * is claimed). Keys are computed inside scripts, so these scripts need a single Redis (or Sentinel); on a
 * Cluster the prefix would have to pin every key to one slot with a hash tag.
 * Note: `until` is a Lua keyword, hence typing['until'].
 */

const COMMON = `
local P = ARGV[1]
local function peerKey(m) return P .. 'peer:' .. m end
local function extend(k, ms)
  local t = redis.call('PTTL', k)
  if t < ms then redis.call('PEXPIRE', k, ms) end
end
-- The lease lives in 'leases' (authoritative, so a heartbeat need not rewrite the JSON); load overlays it.
local function load(m)
  local raw = redis.call('GET', peerKey(m))
  if not raw then return nil, nil end
  local s = cjson.decode(raw)
  local score = redis.call('ZSCORE', P .. 'leases', m)
  if score and tonumber(score) ~= s.lease_expires_at then
    s.lease_expires_at = tonumber(score)
    raw = cjson.encode(s)
  end
  return s, raw
end
local function index(m, s, ttl)
  redis.call('SADD', P .. 'session:' .. s.session_id, m)
  extend(P .. 'session:' .. s.session_id, ttl)
  redis.call('HSET', P .. 'node:' .. s.node_id, m, s.user_id)
  extend(P .. 'node:' .. s.node_id, ttl)
  redis.call('ZADD', P .. 'leases', s.lease_expires_at, m)
end
local function unindex(m, s)
  redis.call('SREM', P .. 'session:' .. s.session_id, m)
  redis.call('HDEL', P .. 'node:' .. s.node_id, m)
  redis.call('ZREM', P .. 'leases', m)
  redis.call('ZREM', P .. 'typing', m)
end
local function stamp() return redis.call('INCR', P .. 'stamp') end
`;

/**
 * ARGV: P, member, state JSON (PresenceJoin), now, leaseMs, retentionMs → stored state JSON, or nil (nothing
 * written) when a live entry of another user holds the member.
 */
export const JOIN = `${COMMON}
local m, now, lease, retention = ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local s = cjson.decode(ARGV[3])
local old = load(m)
if old and old.lease_expires_at > now and old.user_id ~= s.user_id then return false end
if old then unindex(m, old) end
s.updated_at = now
s.lease_expires_at = now + lease
s.selection_version = stamp()
local raw = cjson.encode(s)
redis.call('SET', peerKey(m), raw, 'PX', lease + retention)
index(m, s, lease + retention)
if s.typing ~= cjson.null then redis.call('ZADD', P .. 'typing', s.typing['until'], m) end
return raw`;

/** ARGV: P, member, patch JSON, now, leaseMs, retentionMs → new state JSON, or nil if unknown/expired. */
export const UPDATE = `${COMMON}
local m, now, lease, retention = ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local s = load(m)
if not s or s.lease_expires_at <= now then return false end
local patch = cjson.decode(ARGV[3])
-- A selection belongs to its document: moving to another document without a new selection drops it.
if patch.doc_id ~= nil and patch.selection == nil and patch.doc_id ~= s.doc_id then s.selection = cjson.null end
for k, v in pairs(patch) do s[k] = v end
if patch.typing ~= nil then
  if patch.typing == cjson.null then redis.call('ZREM', P .. 'typing', m)
  else redis.call('ZADD', P .. 'typing', patch.typing['until'], m) end
end
if patch.selection ~= nil or patch.doc_id ~= nil then s.selection_version = stamp() end
s.updated_at = now
s.lease_expires_at = now + lease
local raw = cjson.encode(s)
redis.call('SET', peerKey(m), raw, 'PX', lease + retention)
index(m, s, lease + retention)
return raw`;

/**
 * ARGV: P, nodeId, now, leaseMs, retentionMs, cursor, count → { next cursor, refreshed, lost members... }.
 * One HSCAN chunk of the node's peers per call, so a big gateway never blocks Redis for long (measured
 * ~12 µs per peer). Kept lean: no state JSON is read or written (the lease is the 'leases' score), and each
 * session index is extended once per call.
 */
export const HEARTBEAT_NODE = `${COMMON}
local nodeKey, now, lease, retention = P .. 'node:' .. ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local ttl = lease + retention
local refreshed, out, seen = 0, {}, {}
local function extendOnce(k)
  if not seen[k] then
    seen[k] = true
    extend(k, ttl)
  end
end
local scan = redis.call('HSCAN', nodeKey, ARGV[6], 'COUNT', tonumber(ARGV[7]))
local entries = scan[2]
for i = 1, #entries, 2 do
  local m = entries[i]
  local score = redis.call('ZSCORE', P .. 'leases', m)
  if score and tonumber(score) > now and redis.call('PEXPIRE', peerKey(m), ttl) == 1 then
    -- A lease renewal is not a content write: updated_at and selection_version stay.
    redis.call('ZADD', P .. 'leases', now + lease, m)
    extendOnce(P .. 'session:' .. cjson.decode(m)[1])
    refreshed = refreshed + 1
  else
    -- Expired (not yet swept) or gone: never resurrected by a heartbeat; the gateway re-joins it.
    redis.call('HDEL', nodeKey, m)
    out[#out + 1] = m
  end
end
if refreshed > 0 then extend(nodeKey, ttl) end
table.insert(out, 1, refreshed)
table.insert(out, 1, scan[1])
return out`;

/** ARGV: P, member, user id or '' (any) → removed state JSON, or nil (also when the entry is another user's). */
export const LEAVE = `${COMMON}
local m = ARGV[2]
local s, raw = load(m)
if s and ARGV[3] ~= '' and s.user_id ~= ARGV[3] then return false end
redis.call('ZREM', P .. 'leases', m)
redis.call('ZREM', P .. 'typing', m)
if not s then return false end
unindex(m, s)
redis.call('DEL', peerKey(m))
return raw`;

/** ARGV: P, member, now → live state JSON, or nil. */
export const GET = `${COMMON}
local s, raw = load(ARGV[2])
if not s or s.lease_expires_at <= tonumber(ARGV[3]) then return false end
return raw`;

/** ARGV: P, 'session', id, now → live state JSONs of that set (dropping members whose state is gone). */
export const LIST = `${COMMON}
local setKey, now = P .. ARGV[2] .. ':' .. ARGV[3], tonumber(ARGV[4])
local out = {}
for _, m in ipairs(redis.call('SMEMBERS', setKey)) do
  local s, raw = load(m)
  if not s then redis.call('SREM', setKey, m)
  elseif s.lease_expires_at > now then out[#out + 1] = raw end
end
return out`;

// JSON text of a string, byte-equal to JavaScript's JSON.stringify for valid UTF-8 (the outbox member must be
// the one expiry-outbox.ts builds, or done() would not remove it). cjson.encode differs: it escapes '/'.
// String.raw: the backslashes below are Lua's, not TypeScript's.
const JSON_STRING = String.raw`
local JSON_ESCAPES = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function jsonString(v)
  local escaped = string.gsub(v, '[%z\1-\31"\\]', function(c) return JSON_ESCAPES[c] or string.format('\\u%04x', string.byte(c)) end)
  return '"' .. escaped .. '"'
end
`;

/**
 * ARGV: P, now, limit, outbox key or '' → flat { member, state JSON or '' , ... }. The atomic claim:
 * ZRANGEBYSCORE and the removal happen in one script, so a member is returned to exactly one of the replicas
 * sweeping concurrently. In the same script each claimed expiry with a state joins the expiry outbox (ZADD NX,
 * due now; member = JSON [session, peer, user, expiry_key] as expiry-outbox.ts builds it), so the expiry
 * survives the claiming replica even if it dies before it records the peer_left.
 */
export const CLAIM_EXPIRED = `${COMMON}${JSON_STRING}
local out, outbox = {}, ARGV[4]
for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))) do
  local s, raw = load(m)
  if s then
    unindex(m, s)
    redis.call('DEL', peerKey(m))
    if outbox ~= '' then
      local key = s.session_id .. '/' .. s.peer_id .. '/' .. string.format('%.0f', s.lease_expires_at)
      local entry = '[' .. jsonString(s.session_id) .. ',' .. jsonString(s.peer_id) .. ',' .. jsonString(s.user_id) .. ',' .. jsonString(key) .. ']'
      redis.call('ZADD', outbox, 'NX', ARGV[2], entry)
    end
  else
    -- The state outlived its retention backstop: drop what the ids still reach.
    redis.call('ZREM', P .. 'leases', m)
    redis.call('ZREM', P .. 'typing', m)
    redis.call('SREM', P .. 'session:' .. cjson.decode(m)[1], m)
    raw = ''
  end
  out[#out + 1] = m
  out[#out + 1] = raw
end
return out`;

/** ARGV: P, now, limit → state JSONs as claimed (typing still set); stored typing becomes null. */
export const CLAIM_EXPIRED_TYPING = `${COMMON}
local now, out = tonumber(ARGV[2]), {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', P .. 'typing', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))) do
  redis.call('ZREM', P .. 'typing', m)
  local s, raw = load(m)
  -- A dead peer's typing is left to claimExpired (peer_expired implies typing_stop).
  if s and s.lease_expires_at > now and s.typing ~= cjson.null and s.typing['until'] <= now then
    out[#out + 1] = raw
    s.typing = cjson.null
    s.updated_at = now
    redis.call('SET', peerKey(m), cjson.encode(s), 'KEEPTTL')
  end
end
return out`;

/** ARGV: P, document member → applied version (string), or nil. */
export const APPLIED_VERSION = `${COMMON}
return redis.call('GET', P .. 'applied:' .. ARGV[2])`;

/**
 * ARGV: P, docId, now, document member or '' (no step), expected applied version or '' (none), new applied
 * version, retentionMs, then triples (member, expected selection_version, selection JSON) → flat
 * { member, new state JSON or '' (skipped: changed since read) or '-' (gone), ... }, or { '!' } when the
 * stored applied version is not the expected one (nothing written: another replica moved it first).
 */
export const CAS_SELECTIONS = `${COMMON}
local docId, now, out = ARGV[2], tonumber(ARGV[3]), {}
if ARGV[4] ~= '' then
  local appliedKey = P .. 'applied:' .. ARGV[4]
  if (redis.call('GET', appliedKey) or '') ~= ARGV[5] then return { '!' } end
  redis.call('SET', appliedKey, ARGV[6], 'PX', tonumber(ARGV[7]))
end
for i = 8, #ARGV, 3 do
  local m = ARGV[i]
  local s = load(m)
  local result = '-'
  if s and s.lease_expires_at > now then
    if s.selection_version == tonumber(ARGV[i + 1]) and s.doc_id == docId then
      s.selection = cjson.decode(ARGV[i + 2])
      s.selection_version = stamp()
      s.updated_at = now
      result = cjson.encode(s)
      redis.call('SET', peerKey(m), result, 'KEEPTTL')
    else
      result = ''
    end
  end
  out[#out + 1] = m
  out[#out + 1] = result
end
return out`;
