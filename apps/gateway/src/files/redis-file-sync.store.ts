import type Redis from 'ioredis';
import { fileHostSchema, type FileHost } from '@chorus/protocol';
import { OFFER_TTL_MS, type FileSyncStore, type OfferedFile } from './file-sync.store';

/** The store across gateways: a string per session's host, a hash (path → "hash:size") per offer. */
export class RedisFileSyncStore implements FileSyncStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private hostKey(sessionId: string): string {
    return `${this.prefix}:files:host:${sessionId}`;
  }

  private offerKey(sessionId: string, hostPeer: string, guestPeer: string): string {
    return `${this.prefix}:files:offer:${sessionId}:${hostPeer}:${guestPeer}`;
  }

  private offererKey(sessionId: string, guestPeer: string): string {
    return `${this.prefix}:files:offerer:${sessionId}:${guestPeer}`;
  }

  async host(sessionId: string): Promise<FileHost | null> {
    const raw = await this.redis.get(this.hostKey(sessionId));
    if (raw === null) return null;
    const parsed = fileHostSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }

  async setHost(sessionId: string, host: FileHost): Promise<void> {
    await this.redis.set(this.hostKey(sessionId), JSON.stringify(host));
  }

  async clearHost(sessionId: string, peerId: string): Promise<boolean> {
    // Compare-and-delete in one step: a host that left must not clear the host that took over meanwhile.
    const script = `local v = redis.call('GET', KEYS[1]) if v and cjson.decode(v).peer_id == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end return 0`;
    return (await this.redis.eval(script, 1, this.hostKey(sessionId), peerId)) === 1;
  }

  async offer(sessionId: string, hostPeer: string, guestPeer: string, files: ReadonlyMap<string, OfferedFile>): Promise<void> {
    const key = this.offerKey(sessionId, hostPeer, guestPeer);
    const multi = this.redis.multi().del(key);
    const flat: string[] = [];
    for (const [path, f] of files) flat.push(path, `${f.hash}:${f.size}`);
    for (let i = 0; i < flat.length; i += 2_000) multi.hset(key, ...flat.slice(i, i + 2_000));
    multi.pexpire(key, OFFER_TTL_MS);
    await multi.exec();
  }

  async offered(sessionId: string, hostPeer: string, guestPeer: string, paths: readonly string[]): Promise<Map<string, OfferedFile>> {
    const found = new Map<string, OfferedFile>();
    if (paths.length === 0) return found;
    const values = await this.redis.hmget(this.offerKey(sessionId, hostPeer, guestPeer), ...paths);
    values.forEach((v, i) => {
      if (v === null) return;
      const [hash, size] = v.split(':');
      found.set(paths[i], { hash, size: Number(size) });
    });
    return found;
  }

  async setOfferer(sessionId: string, guestPeer: string, host: FileHost): Promise<void> {
    await this.redis.set(this.offererKey(sessionId, guestPeer), JSON.stringify(host), 'PX', OFFER_TTL_MS);
  }

  async offerer(sessionId: string, guestPeer: string): Promise<FileHost | null> {
    const raw = await this.redis.get(this.offererKey(sessionId, guestPeer));
    if (raw === null) return null;
    const parsed = fileHostSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  }
}
