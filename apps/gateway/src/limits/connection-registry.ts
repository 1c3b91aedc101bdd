import type Redis from 'ioredis';

/**
 * Counts a user's live connections across every gateway, to cap them. Entries are leases: each gateway
 * refreshes its own connections; a crashed gateway's entries expire after `leaseMs` instead of counting forever.
 */
export interface ConnectionRegistry {
  /** Adds the connection unless the user already has `max` live ones; false when refused. Atomic. */
  register(userId: string, connectionId: string, max: number): Promise<boolean>;
  unregister(userId: string, connectionId: string): Promise<void>;
  /** Renews the leases of the given connections (call every leaseMs / 3). */
  refresh(connections: ReadonlyArray<{ userId: string; connectionId: string }>): Promise<void>;
}

export const CONNECTION_LEASE_MS = 30_000;

const REGISTER = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

export class RedisConnectionRegistry implements ConnectionRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly leaseMs = CONNECTION_LEASE_MS,
    // Lease scores are this clock's time (passed into the script, not Redis TIME), so tests can move it.
    private readonly now: () => number = Date.now,
  ) {}

  private key(userId: string): string {
    return `${this.prefix}:conns:${userId}`;
  }

  async register(userId: string, connectionId: string, max: number): Promise<boolean> {
    const now = this.now();
    return (await this.redis.eval(REGISTER, 1, this.key(userId), now, now + this.leaseMs, connectionId, max, this.leaseMs * 2)) === 1;
  }

  async unregister(userId: string, connectionId: string): Promise<void> {
    await this.redis.zrem(this.key(userId), connectionId);
  }

  async refresh(connections: ReadonlyArray<{ userId: string; connectionId: string }>): Promise<void> {
    if (connections.length === 0) return;
    const expiry = this.now() + this.leaseMs;
    const pipeline = this.redis.pipeline();
    for (const c of connections) {
      pipeline.zadd(this.key(c.userId), 'XX', expiry, c.connectionId);
      pipeline.pexpire(this.key(c.userId), this.leaseMs * 2);
    }
    await pipeline.exec();
  }
}

export class MemoryConnectionRegistry implements ConnectionRegistry {
  private readonly byUser = new Map<string, Map<string, number>>();

  constructor(
    private readonly leaseMs = CONNECTION_LEASE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  async register(userId: string, connectionId: string, max: number): Promise<boolean> {
    const conns = this.byUser.get(userId) ?? new Map<string, number>();
    const t = this.now();
    for (const [id, expiry] of conns) if (expiry <= t) conns.delete(id);
    if (!conns.has(connectionId) && conns.size >= max) return false;
    conns.set(connectionId, t + this.leaseMs);
    this.byUser.set(userId, conns);
    return true;
  }

  async unregister(userId: string, connectionId: string): Promise<void> {
    const conns = this.byUser.get(userId);
    conns?.delete(connectionId);
    if (conns?.size === 0) this.byUser.delete(userId);
  }

  async refresh(connections: ReadonlyArray<{ userId: string; connectionId: string }>): Promise<void> {
    const expiry = this.now() + this.leaseMs;
    for (const c of connections) {
      const conns = this.byUser.get(c.userId);
      if (conns?.has(c.connectionId)) conns.set(c.connectionId, expiry);
    }
  }
}
