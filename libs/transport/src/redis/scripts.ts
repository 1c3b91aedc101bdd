import type Redis from 'ioredis';

/**
 * Lua scripts (run atomically by Redis; ioredis sends EVALSHA and falls back to EVAL after a Redis restart).
 * They reference keys passed in KEYS: fine on one Redis; a cluster would need hash tags (not a goal here).
 */

/**
 * Writes a batch of replies and acknowledges the messages they answer, atomically: a message is never
 * acknowledged without its reply, and never answered twice by the same flush.
 * KEYS: nReply reply streams, then nSource source streams.
 * ARGV: group, replyMaxLen, replyTtlMs, nReply, nSource, then one payload per reply stream (a JSON array of
 * replies), then per source stream: del flag ('1' = XDEL too: request streams have a single group), n, ids...
 * XACK/XDEL use pcall: after a Redis restart the group may be gone, and the replies must still go out.
 */
const ACK_BATCH = `
local group, maxlen, ttl = ARGV[1], ARGV[2], ARGV[3]
local nr, ns = tonumber(ARGV[4]), tonumber(ARGV[5])
local a = 6
for i = 1, nr do
  redis.call('XADD', KEYS[i], 'MAXLEN', '~', maxlen, '*', 'm', ARGV[a])
  redis.call('PEXPIRE', KEYS[i], ttl)
  a = a + 1
end
for j = 1, ns do
  local key, del, n = KEYS[nr + j], ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  local ids = {}
  for k = 1, n do ids[k] = ARGV[a + k - 1] end
  a = a + n
  redis.pcall('XACK', key, group, unpack(ids))
  if del == '1' then redis.pcall('XDEL', key, unpack(ids)) end
end
return 0
`;

/**
 * Appends a batch of entries, each its own stream entry (one message per entry: the unit of load
 * balancing, acknowledgement and claiming). KEYS: the streams; ARGV: maxLen, then per stream: n, payloads...
 */
const XADD_BATCH = `
local maxlen = ARGV[1]
local a = 2
for i = 1, #KEYS do
  local n = tonumber(ARGV[a])
  for k = 1, n do
    redis.call('XADD', KEYS[i], 'MAXLEN', '~', maxlen, '*', 'm', ARGV[a + k])
  end
  a = a + n + 1
end
return 0
`;

/**
 * Keeps in-flight messages alive: resets the idle time of those still owned by this consumer (XCLAIM JUSTID
 * does not count a delivery). An entry another replica already claimed is left alone: touching it would
 * steal it back. KEYS[1] stream; ARGV: group, consumer, ids...
 */
const TOUCH = `
local mine = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then mine[#mine + 1] = ARGV[i] end
end
local n = #mine
-- unpack() must be the last argument to expand fully, so JUSTID goes into the table.
mine[n + 1] = 'JUSTID'
if n > 0 then redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(mine)) end
return n
`;

/** Lease renew/release only if we still hold it (value = our consumer name). KEYS[1] lease; ARGV: owner, ms. */
const RENEW_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;
const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * Takes over the pending entries of one (dead) consumer, whatever their idle time. Atomic, so when several
 * replicas saw the death at once each entry goes to exactly one of them: the others find it no longer owned
 * by the dead consumer. KEYS[1] stream; ARGV: group, new consumer, dead consumer, count.
 * Returns the claimed entries (XCLAIM skips entries trimmed meanwhile and drops them from the pending list).
 */
const CLAIM_FROM = `
local rows = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', tonumber(ARGV[4]), ARGV[3])
if #rows == 0 then return {} end
local ids = {}
for i = 1, #rows do ids[i] = rows[i][1] end
return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(ids))
`;

export interface ScriptedRedis extends Redis {
  chorusAckBatch(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  chorusXaddBatch(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<number>;
  chorusTouch(key: string, group: string, consumer: string, ...ids: string[]): Promise<number>;
  chorusRenewLease(key: string, owner: string, ms: number): Promise<number>;
  chorusReleaseLease(key: string, owner: string): Promise<number>;
  chorusClaimFrom(key: string, group: string, consumer: string, from: string, count: number): Promise<Array<[string, string[]] | null>>;
}

export function defineScripts(redis: Redis): ScriptedRedis {
  redis.defineCommand('chorusAckBatch', { lua: ACK_BATCH });
  redis.defineCommand('chorusXaddBatch', { lua: XADD_BATCH });
  redis.defineCommand('chorusTouch', { lua: TOUCH, numberOfKeys: 1 });
  redis.defineCommand('chorusRenewLease', { lua: RENEW_LEASE, numberOfKeys: 1 });
  redis.defineCommand('chorusReleaseLease', { lua: RELEASE_LEASE, numberOfKeys: 1 });
  redis.defineCommand('chorusClaimFrom', { lua: CLAIM_FROM, numberOfKeys: 1 });
  return redis as ScriptedRedis;
}
