import { createHash } from 'node:crypto';
import type Redis from 'ioredis';
import type { AppendInput, Appended, ChannelEntry, ChannelHistory, ChannelHistoryLimits, HistoryRead } from './channel-history';
import { CHANNEL_IDLE_TTL_MS, readFrom } from './channel-history';

// One Redis stream per (session, channel) holds the retained events; a hash beside it holds the channel's seq
// and the last entry's time. Entry ids are `<ms>-<seq>`: ms never goes backwards (max with the last entry's), so
// ids grow with seq and MINID trims by age exactly. Both keys share a hash tag, so one script sees both.

/**
 * KEYS: stream, meta hash, dedupe key (or the meta hash again when there is none).
 * ARGV: now ms, size, ttl ms, idle ttl ms, publisher JSON, data JSON, has dedupe ('1'/'0').
 * → {duplicate 0/1, id, entry JSON or false}
 */
const APPEND = `
local now = tonumber(ARGV[1])
if ARGV[7] == '1' then
  local prior = redis.call('GET', KEYS[3])
  if prior then
    local found = redis.call('XRANGE', KEYS[1], prior, prior)
    if #found > 0 then return {1, prior, found[1][2][2]} end
    return {1, prior, false}
  end
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
local last = tonumber(redis.call('HGET', KEYS[2], 'ms') or '0')
local ms = math.max(now, last)
redis.call('HSET', KEYS[2], 'ms', ms)
local id = ms .. '-' .. seq
local entry = '{"seq":' .. seq .. ',"timestamp":' .. ms .. ',"publisher":' .. ARGV[5] .. ',"data":' .. ARGV[6] .. '}'
redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[2], id, 'e', entry)
redis.call('XTRIM', KEYS[1], 'MINID', '=', (now - tonumber(ARGV[3]) + 1) .. '-0')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
if ARGV[7] == '1' then redis.call('SET', KEYS[3], id, 'PX', ARGV[3]) end
return {0, id, entry}
`;

/**
 * KEYS: stream, meta hash. ARGV: the oldest id still young enough, `since` (-1: none). → {seq, entries newest first}
 * Seqs are gap-free, so the events after `since` are the newest `seq - since` entries: only those are read (a gap
 * read or a replay costs what it returns, not the whole history).
 */
const READ = `
local seq = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
local since = tonumber(ARGV[2])
if since < 0 or since >= seq then return {seq, {}} end
return {seq, redis.call('XREVRANGE', KEYS[1], '+', ARGV[1], 'COUNT', math.min(seq - since, tonumber(ARGV[3])))}
`;

interface Script {
  readonly source: string;
  readonly sha: string;
}
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SCRIPTS = { append: script(APPEND), read: script(READ) };

/** The history across gateways (see ChannelHistory): every key under the configured prefix. */
export class RedisChannelHistory implements ChannelHistory {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limits: ChannelHistoryLimits,
    private readonly clock: { now(): number } = Date,
  ) {}

  async append(sessionId: string, channel: string, input: AppendInput): Promise<Appended> {
    const { stream, meta, base } = this.keys(sessionId, channel);
    const dedupe = input.clientMsgId === undefined ? meta : `${base}:dd:${input.publisher.user_id}:${input.clientMsgId}`;
    const args = [this.clock.now(), this.limits.size, this.limits.ttlMs, CHANNEL_IDLE_TTL_MS, JSON.stringify(input.publisher), JSON.stringify(input.data), input.clientMsgId === undefined ? '0' : '1'];
    const [duplicate, id, raw] = await this.run<[number, string, string | null]>(SCRIPTS.append, [stream, meta, dedupe], args);
    const [ms, seq] = id.split('-').map(Number);
    const entry = raw === null ? undefined : (JSON.parse(raw) as ChannelEntry);
    return { seq, timestamp: ms, duplicate: duplicate === 1, entry };
  }

  async read(sessionId: string, channel: string, since: number | undefined): Promise<HistoryRead> {
    const { stream, meta } = this.keys(sessionId, channel);
    const oldest = `${this.clock.now() - this.limits.ttlMs + 1}-0`;
    const [head, rows] = await this.run<[number, Array<[string, string[]]>]>(SCRIPTS.read, [stream, meta], [oldest, since ?? -1, this.limits.size]);
    // Newest first, at most `size` (trimming by count happens on append; a size lowered since is applied here too).
    const retained = rows.map(([, fields]) => JSON.parse(fields[1]) as ChannelEntry).reverse();
    return readFrom(head, retained, since);
  }

  private keys(sessionId: string, channel: string): { stream: string; meta: string; base: string } {
    const base = `${this.prefix}:ch:{${sessionId}:${channel}}`;
    return { stream: `${base}:log`, meta: `${base}:meta`, base };
  }

  /** EVALSHA, falling back to EVAL once when the server does not know the script yet (or was restarted). */
  private async run<T>(s: Script, keys: string[], args: Array<string | number>): Promise<T> {
    try {
      return (await this.redis.evalsha(s.sha, keys.length, ...keys, ...args)) as T;
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return (await this.redis.eval(s.source, keys.length, ...keys, ...args)) as T;
    }
  }
}
