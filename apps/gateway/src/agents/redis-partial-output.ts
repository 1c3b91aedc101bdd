import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { MAX_PARTIAL_CHARS, PARTIAL_TTL_MS, type PartialChunk, type PartialOutputStore, type PartialText } from './partial-output';

// One hash per session (`<prefix>:partial:<session>`), a field per prompt holding {agent_id, through_index,
// text, touched}: a chunk is one script (atomic across gateways). The hash expires with the session's last
// chunk; fields older than the TTL are dropped on read (a busy session keeps its hash alive).
const APPEND = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local agent, index, data, now, max = ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local kept = raw and cjson.decode(raw) or nil
if kept and (now - kept.touched) >= tonumber(ARGV[7]) then kept = nil end
if (not kept) or kept.agent_id ~= agent then
  kept = { agent_id = agent, through_index = index, text = string.sub(data, 1, max), touched = now }
elseif index > kept.through_index then
  if string.len(kept.text) < max then kept.text = string.sub(kept.text .. data, 1, max) end
  kept.through_index = index
  kept.touched = now
else
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(kept))
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 1
`;

interface Script {
  readonly source: string;
  readonly sha: string;
}
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const SCRIPTS = { append: script(APPEND) };

interface Kept {
  agent_id: string;
  through_index: number;
  text: string;
  touched: number;
}

/**
 * The store across gateways (see PartialOutputStore). Lengths are bytes in Lua and characters in the memory
 * twin: the cap is a bound on memory, not a contract on the exact cut (MAX_PARTIAL_CHARS is far above a
 * response a reader waits for); at the cap a multi-byte character may be cut (read back as U+FFFD).
 */
export class RedisPartialOutputStore implements PartialOutputStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly clock: { now(): number } = Date,
  ) {}

  async append(sessionId: string, chunk: PartialChunk): Promise<void> {
    const args = [chunk.message_id, chunk.agent_id, chunk.index, chunk.data, this.clock.now(), MAX_PARTIAL_CHARS, PARTIAL_TTL_MS];
    try {
      await this.redis.evalsha(SCRIPTS.append.sha, 1, this.key(sessionId), ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      await this.redis.eval(SCRIPTS.append.source, 1, this.key(sessionId), ...args);
    }
  }

  async read(sessionId: string): Promise<PartialText[]> {
    const all = await this.redis.hgetall(this.key(sessionId));
    const now = this.clock.now();
    const out: PartialText[] = [];
    for (const [messageId, raw] of Object.entries(all)) {
      const kept = JSON.parse(raw) as Kept;
      if (now - kept.touched >= PARTIAL_TTL_MS) continue;
      out.push({ message_id: messageId, agent_id: kept.agent_id, through_index: kept.through_index, text: kept.text });
    }
    return out;
  }

  async clear(sessionId: string, messageId: string): Promise<void> {
    await this.redis.hdel(this.key(sessionId), messageId);
  }

  private key(sessionId: string): string {
    return `${this.prefix}:partial:${sessionId}`;
  }
}
