import type Redis from 'ioredis';
import { byPeerId, type VoiceMember, type VoiceRoomStore } from './voice-room.store';

/** A session's key lives a day past its last write: the backstop behind leave and expiry (see VoiceRoomStore). */
const SESSION_KEY_TTL_MS = 24 * 3600 * 1000;

// One hash per session: peer_id → member JSON. Each change is one script, so read-and-write is atomic across
// every presence replica.

/** KEYS: session hash. ARGV: peer, member JSON, ttl → the previous member JSON, or false. */
const JOIN = `
local previous = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return previous`;

/** KEYS: session hash. ARGV: peer, user id or '' → the removed member JSON, or false. */
const LEAVE = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return false end
if ARGV[2] ~= '' and cjson.decode(current).user_id ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
return current`;

/** KEYS: session hash. ARGV: peer, '1' or '0', ttl → the updated member JSON, or false. */
const SET_MUTED = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return false end
local m = cjson.decode(current)
m.muted = ARGV[2] == '1'
local encoded = cjson.encode(m)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return encoded`;

type Scripted = Redis & {
  voiceJoin(key: string, peer: string, member: string, ttl: number): Promise<string | null>;
  voiceLeave(key: string, peer: string, user: string): Promise<string | null>;
  voiceSetMuted(key: string, peer: string, muted: string, ttl: number): Promise<string | null>;
};

/** The voice rooms in Redis, shared by every presence replica. Keys: `${prefix}:voice:<session id>`. */
export class RedisVoiceRoomStore implements VoiceRoomStore {
  private readonly redis: Scripted;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    redis.defineCommand('voiceJoin', { numberOfKeys: 1, lua: JOIN });
    redis.defineCommand('voiceLeave', { numberOfKeys: 1, lua: LEAVE });
    redis.defineCommand('voiceSetMuted', { numberOfKeys: 1, lua: SET_MUTED });
    this.redis = redis as Scripted;
  }

  private key(sessionId: string): string {
    return `${this.prefix}:voice:${sessionId}`;
  }

  async join(sessionId: string, member: VoiceMember): Promise<VoiceMember | null> {
    return parse(await this.redis.voiceJoin(this.key(sessionId), member.peer_id, JSON.stringify(member), SESSION_KEY_TTL_MS));
  }

  async leave(sessionId: string, peerId: string, userId?: string): Promise<VoiceMember | null> {
    return parse(await this.redis.voiceLeave(this.key(sessionId), peerId, userId ?? ''));
  }

  async setMuted(sessionId: string, peerId: string, muted: boolean): Promise<VoiceMember | null> {
    return parse(await this.redis.voiceSetMuted(this.key(sessionId), peerId, muted ? '1' : '0', SESSION_KEY_TTL_MS));
  }

  async get(sessionId: string, peerIds: readonly string[]): Promise<Array<VoiceMember | null>> {
    if (peerIds.length === 0) return [];
    return (await this.redis.hmget(this.key(sessionId), ...peerIds)).map(parse);
  }

  async list(sessionId: string): Promise<VoiceMember[]> {
    return Object.values(await this.redis.hgetall(this.key(sessionId)))
      .map((raw) => parse(raw) as VoiceMember)
      .sort(byPeerId);
  }
}

/** What this store wrote (JSON of a VoiceMember; cjson's re-encoding only escapes '/', which JSON.parse reads). */
function parse(raw: string | null): VoiceMember | null {
  if (raw === null) return null;
  const m = JSON.parse(raw) as VoiceMember;
  return { peer_id: m.peer_id, user_id: m.user_id, display_name: m.display_name, room: m.room, muted: m.muted === true };
}
