import type { LoggerService } from '@nestjs/common';
import type { StreamKeys } from './keys';
import type { ScriptedRedis } from './scripts';

/** What the leases need from the server that holds them. */
export interface ShardHost {
  /** Start serving a newly leased shard: claim what its previous holder left pending, then read it. */
  adoptShard(shard: number): Promise<void>;
  /** Stop reading a shard (lease lost, or being handed over to another replica). */
  dropShard(shard: number): void;
  /** Messages of this shard read by this replica and not yet acknowledged. */
  inflightInShard(shard: number): number;
}

/**
 * Ordering shards: keyed requests of a service go to one of N shard streams, and each shard is read by
 * exactly one replica at a time, the holder of its lease (`SET NX PX`, renewed every tick). So all messages
 * of one key reach one replica, which runs them one at a time in stream order (KeyQueue).
 *
 * Sharing: replicas heartbeat into a members ZSET; each holds about ceil(N / live replicas) shards. A
 * replica over its share stops reading the extra shards, waits until their in-flight messages are
 * acknowledged, and only then releases the lease: a graceful handover keeps per-key order.
 *
 * Failover: a replica whose Redis connections are gone (dead, see PeerLiveness) has its leases deleted by
 * the first live replica that notices (`evict`), which takes them at once; a replica that is connected but
 * silent keeps them until they expire after `leaseMs`. The next holder first claims the shard's pending
 * entries (in stream order) and only then reads new ones. If the old holder was not dead but stalled longer
 * than `leaseMs` (or cut off from Redis while alive), it may still finish a message the new holder also
 * runs: per-key order and single execution can break for that one in-flight message. Handlers must stay
 * idempotent (request id) and conditional (e.g. a unique (doc, version) commit), which is what actually
 * guarantees correctness.
 */
export class ShardLeases {
  private readonly owned = new Set<number>();
  private readonly draining = new Set<number>();
  /** Ticks run one at a time (the ticker and a takeover after an eviction may ask at once). */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: StreamKeys,
    private readonly service: string,
    private readonly consumer: string,
    private readonly shards: number,
    private readonly leaseMs: number,
    private readonly host: ShardHost,
    private readonly logger: LoggerService,
  ) {}

  /** The fair share computed at the last tick (shards this replica should hold). */
  private share = 0;

  /**
   * Below its share while some shard has no holder (a replica handing shards over just released them): take
   * them now (the host asks every livenessCheckMs) rather than at the next tick, which may be a second away.
   */
  wantsMore(heldByOthers: Map<string, number[]>): boolean {
    let taken = this.owned.size;
    for (const shards of heldByOthers.values()) taken += shards.length;
    return taken < this.shards && this.readable().length < this.share;
  }

  /** Shards this replica reads now (held and not being handed over). */
  readable(): number[] {
    return [...this.owned].filter((s) => !this.draining.has(s));
  }

  /** Renews, hands over and (when `acquire`) takes leases. Run every leaseMs/6. */
  tick(acquire: boolean): Promise<void> {
    const run = this.queue.then(() => this.runTick(acquire));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Hands over the shards being drained whose in-flight messages are all acknowledged now, without waiting
   * for the next tick (up to claimIdleMs/6 away): their new entries wait unread until the next holder takes
   * them. No Redis call unless a shard is being handed over.
   */
  releaseDrained(): Promise<void> {
    if (this.draining.size === 0) return Promise.resolve();
    const run = this.queue.then(async () => {
      for (const shard of [...this.draining]) {
        if (this.host.inflightInShard(shard) === 0) await this.release(shard);
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Holders of the shards this replica does not hold, by consumer (one MGET). */
  async othersHolding(): Promise<Map<string, number[]>> {
    const shards = Array.from({ length: this.shards }, (_, i) => i);
    const holders = await this.redis.mget(...shards.map((s) => this.keys.lease(this.service, s)));
    const byConsumer = new Map<string, number[]>();
    holders.forEach((holder, shard) => {
      if (holder === null || holder === this.consumer) return;
      const list = byConsumer.get(holder) ?? [];
      list.push(shard);
      byConsumer.set(holder, list);
    });
    return byConsumer;
  }

  /**
   * A dead replica's leases: delete those it still holds (only if still its own: another replica may have
   * been faster) and its heartbeat (so the fair share counts it out), then take shards at once.
   */
  async evict(consumer: string, shards: number[]): Promise<void> {
    for (const shard of shards) await this.redis.chorusReleaseLease(this.keys.lease(this.service, shard), consumer);
    await this.redis.zrem(this.keys.members(this.service), consumer);
    await this.tick(true);
  }

  private async runTick(acquire: boolean): Promise<void> {
    for (const shard of [...this.owned]) {
      const renewed = await this.redis.chorusRenewLease(this.keys.lease(this.service, shard), this.consumer, this.leaseMs);
      if (renewed !== 1) {
        // Expired during a stall, or Redis restarted: someone else may hold it now. Stop reading at once.
        this.owned.delete(shard);
        this.draining.delete(shard);
        this.host.dropShard(shard);
        this.logger.warn(`Lost the lease of ordering shard ${shard} of "${this.service}"`);
      }
    }
    for (const shard of [...this.draining]) {
      if (this.host.inflightInShard(shard) === 0) await this.release(shard);
    }
    if (!acquire) return;

    const members = this.keys.members(this.service);
    const now = Date.now();
    const results = await this.redis
      .multi()
      .zadd(members, now, this.consumer)
      .zremrangebyscore(members, '-inf', now - this.leaseMs)
      .zcard(members)
      .exec();
    const live = Math.max(1, Number(results?.[2]?.[1] ?? 1));
    const fairShare = Math.ceil(this.shards / live);
    this.share = fairShare;
    const active = this.readable();
    if (active.length > fairShare) {
      for (const shard of active.slice(fairShare)) {
        this.draining.add(shard);
        this.host.dropShard(shard);
      }
      return;
    }
    let holding = active.length;
    for (const shard of shuffled(this.shards)) {
      if (holding >= fairShare) break;
      if (this.owned.has(shard)) continue;
      const taken = await this.redis.set(this.keys.lease(this.service, shard), this.consumer, 'PX', this.leaseMs, 'NX');
      if (taken !== 'OK') continue;
      this.owned.add(shard);
      holding++;
      try {
        await this.host.adoptShard(shard);
      } catch (error) {
        this.logger.error(`Could not adopt ordering shard ${shard}: ${(error as Error).message}`);
        await this.release(shard);
        holding--;
      }
    }
  }

  /** Graceful shutdown: give every lease back so other replicas take the shards without waiting. */
  async releaseAll(): Promise<void> {
    for (const shard of [...this.owned]) await this.release(shard);
    await this.redis.zrem(this.keys.members(this.service), this.consumer);
  }

  private async release(shard: number): Promise<void> {
    this.owned.delete(shard);
    this.draining.delete(shard);
    this.host.dropShard(shard);
    await this.redis.chorusReleaseLease(this.keys.lease(this.service, shard), this.consumer);
  }
}

function shuffled(n: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
