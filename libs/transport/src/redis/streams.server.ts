import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { BaseTransportServer } from '../base.server';
import type { RequestEnvelope } from '../envelope';
import type { StreamBacklog, TransportBacklog } from '../observer';
import { KeyQueue } from '../key-queue';
import { type RedisStreamsServerOptions, type ResolvedStreamsOptions, resolveStreamsOptions, type KeyedMode } from '../options';
import { TransportContext } from '../transport.context';
import { TransportErrorCode } from '../transport.error';
import { ConnectionStatus, createConnection, isNoGroupError, whenReady } from './connection';
import { StreamKeys } from './keys';
import { PeerLiveness } from './liveness';
import { type Completion, ReplyOutbox } from './outbox';
import { ShardHost, ShardLeases } from './shard-leases';
import { Backoff, Ticker, autoClaim, deliveryCounts, ensureGroup, field, parseRead, settleBy } from './stream-ops';
import type { ScriptedRedis } from './scripts';

export const REDIS_STREAMS_TRANSPORT = Symbol('REDIS_STREAMS');

/**
 * After this replica's own (re)connection to Redis nobody is judged dead for this long: when Redis restarts
 * or the network blips, every replica reconnects, each after its own back-off (up to 1 s, connection.ts).
 */
const RECONNECT_GRACE_MS = 2_000;

/**
 * Nest transport strategy on Redis Streams: one consumer group per service, so each request is handled by
 * one replica, and messages survive a replica's death (see docs/transport.md).
 *
 * Life of a message here: XREADGROUP (blocking, on its own connection, COUNT = free capacity) → in flight
 * (touched every claimIdleMs/6 so nobody claims it while we work) → handler → reply + XACK in one script
 * (ReplyOutbox). A replica that dies leaves its in-flight entries pending. Two ways they are taken over:
 * - dead: its Redis connections are gone (PeerLiveness, checked every livenessCheckMs): another replica
 *   claims its entries and its ordering-shard leases at once, within ~2 checks;
 * - hung but connected: after `claimIdleMs` without a touch, any replica's reclaim tick takes them over
 *   (XAUTOCLAIM). A pause shorter than claimIdleMs − claimIdleMs/6 (GC, SIGSTOP) loses nothing.
 * Either way a message delivered more than `maxDeliveries` times is dead-lettered.
 */
export class RedisStreamsServer extends BaseTransportServer implements ShardHost {
  /** Consumer name: node id plus a random part, unique per process even when every pod's pid is 1. */
  readonly consumer: string;
  private readonly opts: ResolvedStreamsOptions;
  private readonly service: string;
  private readonly keys: StreamKeys;
  private readonly keyQueue = new KeyQueue();
  private readonly keyedMode: KeyedMode;
  private reader?: ScriptedRedis;
  private commands?: ScriptedRedis;
  private connection?: ConnectionStatus;
  private outbox?: ReplyOutbox;
  private leases?: ShardLeases;
  private readerClientId?: number;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private tickers: Ticker[] = [];
  private keepAlive: Ticker[] = [];
  private readonly backoff = new Backoff();
  /** Request stream + one stream per subscribed event pattern, read by every replica. */
  private sharedStreams: string[] = [];
  /** Ordering shards this replica holds and reads, by stream name. */
  private readonly shardStreams = new Map<string, number>();
  /** Entries read and not yet acknowledged, by stream: the touch list, the shard drain and shutdown checks. */
  private readonly inflight = new Map<string, Set<string>>();
  private inflightTotal = 0;
  /**
   * Entries read whose handler has not finished: the concurrency count. A slot frees when the handler ends,
   * not when its ack is written: the reply+ack is then queued in the outbox (written within one round trip),
   * and the next read overlaps that write instead of waiting for it. So `concurrency` bounds handlers running
   * at once; entries read but unacknowledged are at most concurrency + one outbox batch.
   */
  private handling = 0;
  private onSlotFreed?: () => void;
  private readonly claimCursors = new Map<string, string>();
  private liveness?: PeerLiveness;
  /** When the commands connection last became ready (see RECONNECT_GRACE_MS). */
  private connectedAt = 0;
  /** Takeovers of dead replicas' work, for tests and logs: entries claimed and leases evicted. */
  readonly takeovers = { entries: 0, leases: 0 };

  constructor(options: RedisStreamsServerOptions) {
    super(REDIS_STREAMS_TRANSPORT);
    this.opts = resolveStreamsOptions(options);
    this.service = options.service;
    this.keyedMode = options.keyedMode ?? 'serial';
    this.keys = new StreamKeys(this.opts.prefix);
    this.consumer = `${this.opts.nodeId}:${randomBytes(4).toString('hex')}`;
  }

  listen(callback: (error?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (error: unknown) => {
        // A failed start must not leave connections retrying in the background.
        this.running = false;
        for (const t of [...this.tickers, ...this.keepAlive]) t.stop();
        this.reader?.disconnect();
        this.commands?.disconnect();
        callback(error);
      },
    );
  }

  unwrap<T>(): T {
    if (!this.reader || !this.commands) throw new Error('Not listening yet: call listen() first.');
    return { reader: this.reader, commands: this.commands } as T;
  }

  protected get serviceName(): string {
    return this.service;
  }

  /**
   * The service's queue as Redis holds it (for the pending, lag and dead-letter gauges): one XINFO GROUPS per
   * stream the group reads (the request stream, every ordering shard, every event stream) and one XLEN.
   * The same answer on every replica: it describes the group, not this consumer.
   */
  async backlog(): Promise<TransportBacklog> {
    if (!this.commands || this.commands.status !== 'ready') throw new Error('not connected to Redis');
    const requests = this.keys.requests(this.service);
    const shards = Array.from({ length: this.opts.orderingShards }, (_, n) => this.keys.shard(this.service, n));
    const events = this.eventPatterns();
    const pipeline = this.commands.pipeline();
    for (const stream of [requests, ...shards, ...events.map((p) => this.keys.events(p))]) pipeline.call('XINFO', 'GROUPS', stream);
    pipeline.xlen(this.keys.deadLetters(this.service));
    const replies = (await pipeline.exec()) ?? [];
    const groupOf = (i: number): { pending: number; lag: number | null } => {
      const [error, rows] = replies[i] ?? [null, []];
      // A stream nobody wrote to yet does not exist: nothing pending, nothing behind.
      if (error) return { pending: 0, lag: 0 };
      for (const row of (rows as Array<Array<string | number | null>>) ?? []) {
        const info = new Map<string, string | number | null>();
        for (let f = 0; f + 1 < row.length; f += 2) info.set(String(row[f]), row[f + 1]);
        if (info.get('name') !== this.service) continue;
        const lag = info.get('lag');
        return { pending: Number(info.get('pending') ?? 0), lag: lag === null || lag === undefined ? null : Number(lag) };
      }
      return { pending: 0, lag: 0 };
    };
    const ordered = shards.map((_, n) => groupOf(1 + n));
    const streams: StreamBacklog[] = [
      { stream: 'requests', ...groupOf(0) },
      {
        stream: 'ordered',
        pending: ordered.reduce((sum, g) => sum + g.pending, 0),
        lag: ordered.some((g) => g.lag === null) ? null : ordered.reduce((sum, g) => sum + (g.lag ?? 0), 0),
      },
      ...events.map((pattern, n) => ({ stream: `event:${pattern}`, ...groupOf(1 + shards.length + n) })),
    ];
    const [dlError, deadLetters] = replies[replies.length - 1] ?? [null, 0];
    if (dlError) throw dlError;
    return { streams, deadLetters: Number(deadLetters) };
  }

  /** Messages read whose handler has not finished (≤ concurrency, plus a claimed shard's backlog). */
  inflightCount(): number {
    return this.handling;
  }

  private async start(): Promise<void> {
    this.reader = createConnection(this.opts, `${this.consumer}:read`, false);
    this.commands = createConnection(this.opts, `${this.consumer}:cmd`, true);
    this.outbox = new ReplyOutbox(this.commands, this.service, this.opts.replyMaxLen, this.opts.replyTtlMs, this.logger);
    this.connection = new ConnectionStatus([this.reader, this.commands], (s) => this.setStatus(s), (c) => this.onConnectionReady(c));
    await Promise.all([whenReady(this.reader, 30_000), whenReady(this.commands, 30_000)]);
    this.sharedStreams = [this.keys.requests(this.service), ...this.eventPatterns().map((p) => this.keys.events(p))];
    for (const stream of this.sharedStreams) await ensureGroup(this.commands, stream, this.service);
    this.readerClientId = Number(await this.reader.client('ID'));
    this.connectedAt = Date.now();
    this.leases = new ShardLeases(this.commands, this.keys, this.service, this.consumer, this.opts.orderingShards, this.opts.claimIdleMs, this, this.logger);
    this.running = true;
    const log = (what: string) => (error: unknown) => this.logger.error(`${what} failed: ${(error as Error).message}`);
    this.liveness = new PeerLiveness(this.commands);
    // Renew and touch 6 times per claimIdleMs: a pause up to 5/6 of it costs neither messages nor leases.
    const leaseTick = this.opts.claimIdleMs / 6;
    await this.leases.tick(true).catch(log('Ordering shard leases'));
    this.tickers = [
      new Ticker(this.opts.livenessCheckMs, () => this.takeOverDead(), log('Dead replica takeover')),
      new Ticker(this.opts.claimIdleMs / 4, () => this.reclaim(), log('Reclaim')),
      new Ticker(leaseTick, () => this.leases!.tick(this.running), log('Ordering shard leases')),
      new Ticker(Math.max(60_000, this.opts.claimIdleMs * 10), () => this.removeIdleConsumers(), log('Consumer cleanup')),
    ];
    this.keepAlive = [new Ticker(leaseTick, () => this.touchInflight(), log('Touch in-flight'))];
    this.loopDone = this.readLoop();
  }

  /**
   * Graceful shutdown: stop reading, let in-flight handlers finish (up to shutdownTimeoutMs) and write their
   * replies, give back the ordering leases, then disconnect. Whatever is still unfinished stays pending and
   * is claimed by another replica.
   */
  async close(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    // Every step is bounded by shutdownTimeoutMs: while Redis is down, commands wait in the offline queue.
    const deadline = Date.now() + this.opts.shutdownTimeoutMs;
    const bounded = (step: Promise<unknown>) => settleBy(step, deadline);
    for (const t of this.tickers) t.stop();
    this.backoff.wake();
    this.onSlotFreed?.(); // a read loop waiting for capacity re-checks `running`
    await bounded(this.unblockReader());
    await bounded(this.loopDone);
    await bounded(this.leases?.tick(false) ?? Promise.resolve());
    while (this.inflightTotal > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.onSlotFreed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await bounded(this.outbox?.drain() ?? Promise.resolve());
    for (const t of this.keepAlive) t.stop();
    await bounded(this.leases?.releaseAll() ?? Promise.resolve());
    this.connection?.markClosed();
    this.reader?.disconnect();
    // QUIT would wait in the offline queue forever while Redis is down: only a ready connection says goodbye.
    if (this.commands?.status === 'ready') await bounded(this.commands.quit());
    this.commands?.disconnect();
  }

  /**
   * The read loop. Invariant: one XREADGROUP never asks for more than the free capacity in total (COUNT is
   * per stream, so it is divided by the number of streams read), which keeps `inflight <= concurrency`.
   * Dividing by 1 request stream + every event stream + up to 16 ordering shards would make each read tiny,
   * so reads alternate: the streams whose last read came back full (a backlog: read them with a big COUNT),
   * then all streams (so none starves). Only a read of all streams that follows an empty read blocks.
   */
  private async readLoop(): Promise<void> {
    const reader = this.reader!;
    let backlog: string[] = [];
    let idle = true;
    while (this.running) {
      await this.waitForCapacity();
      if (!this.running) break;
      const all = [...this.sharedStreams, ...this.shardStreams.keys()];
      // Streams with more to read first; a backlog whose shards were handed over meanwhile may be empty.
      const pending = backlog.filter((s) => all.includes(s));
      const streams = pending.length > 0 ? pending : all;
      const free = this.opts.concurrency - this.handling;
      const count = Math.max(1, Math.min(this.opts.readBatch, Math.floor(free / Math.max(1, streams.length))));
      const block = streams === all && idle ? ['BLOCK', this.opts.blockMs] : [];
      try {
        const reply = parseRead(
          await reader.call('XREADGROUP', 'GROUP', this.service, this.consumer, 'COUNT', count, ...block, 'STREAMS', ...streams, ...streams.map(() => '>')),
        );
        this.backoff.reset();
        idle = reply.length === 0;
        backlog = streams === all ? reply.filter(([, entries]) => entries.length === count).map(([stream]) => stream) : [];
        for (const [stream, entries] of reply) {
          for (const [id, fields] of entries) this.accept(stream, id, fields, 1);
        }
      } catch (error) {
        // The loop never dies: log, repair what can be repaired (a Redis restart drops the groups), back off.
        if (!this.running) break;
        backlog = [];
        idle = true;
        if (isNoGroupError(error)) await this.ensureGroups(all).catch(() => undefined);
        else this.logger.warn(`XREADGROUP failed, retrying: ${(error as Error).message}`);
        await this.backoff.wait();
      }
    }
  }

  private accept(stream: string, id: string, fields: string[], deliveries: number): void {
    const set = this.inflight.get(stream) ?? new Set<string>();
    if (set.has(id)) return; // already ours (a lease re-adopted while we still ran it)
    set.add(id);
    this.inflight.set(stream, set);
    this.inflightTotal++;
    this.handling++;
    const raw = field(fields, 'm') ?? '';
    let env: RequestEnvelope;
    try {
      env = JSON.parse(raw) as RequestEnvelope;
    } catch {
      this.observer.deadLettered?.('?', 'unparseable');
      this.deadLetter(stream, id, raw, deliveries, 'unparseable message');
      return;
    }
    if (deliveries > this.opts.maxDeliveries) {
      this.observer.deadLettered?.(env.p, 'max_deliveries');
      this.deadLetter(stream, id, raw, deliveries, `delivered ${deliveries} times`, env);
      return;
    }
    // A stream entry id starts with the ms its XADD ran: the wait in the queue, as Redis's clock saw it.
    this.observer.received?.(env.p, Math.max(0, Date.now() - Number(id.slice(0, id.indexOf('-')))), deliveries);
    const run = () => this.process(stream, id, env, deliveries);
    // Keyed requests come from an ordering shard only this replica reads: a per-key FIFO completes the order.
    if (env.k !== undefined && env.r !== undefined && this.keyedMode === 'serial') this.keyQueue.run(env.k, run);
    else void run();
  }

  private async process(stream: string, id: string, env: RequestEnvelope, deliveries: number): Promise<void> {
    const isRequest = env.r !== undefined;
    // Past its deadline the caller has already been told UNAVAILABLE: acknowledge without running it.
    if (isRequest && env.t !== undefined && env.t < Date.now()) {
      this.complete({ stream, id, deleteEntry: true });
      return;
    }
    const ctx = new TransportContext({
      pattern: env.p,
      requestId: env.i,
      deliveryCount: deliveries,
      consumer: this.consumer,
      kind: isRequest ? 'request' : 'event',
      ...(env.k !== undefined && { key: env.k }),
    });
    const reply = await this.handleMessage(env, ctx);
    this.complete({ stream, id, deleteEntry: isRequest, replyTo: env.r, reply });
  }

  /** The handler is done (or skipped): free its slot, queue its reply and ack. */
  private complete(completion: Completion): void {
    this.freeSlot();
    this.outbox!.add(completion, () => this.untrack(completion.stream, completion.id));
  }

  private freeSlot(): void {
    this.handling--;
    this.wake();
  }

  private untrack(stream: string, id: string): void {
    if (this.inflight.get(stream)?.delete(id)) {
      this.inflightTotal--;
      this.wake();
    }
  }

  private wake(): void {
    const wake = this.onSlotFreed;
    this.onSlotFreed = undefined;
    wake?.();
  }

  private async waitForCapacity(): Promise<void> {
    while (this.running && this.handling >= this.opts.concurrency) {
      await new Promise<void>((resolve) => (this.onSlotFreed = resolve));
    }
  }

  /** Moves a message to the dead-letter stream; a request's caller gets a DEAD_LETTER error at once. */
  private deadLetter(stream: string, id: string, raw: string, deliveries: number, reason: string, env?: RequestEnvelope): void {
    this.logger.warn(`Dead-lettering ${stream} ${id} (${env?.p ?? '?'}): ${reason}`);
    const isRequest = env?.r !== undefined;
    this.commands!
      .xadd(this.keys.deadLetters(this.service), 'MAXLEN', '~', this.opts.maxLen, '*', 'm', raw, 'stream', stream, 'id', id,
        'deliveries', String(deliveries), 'reason', reason, 'consumer', this.consumer)
      .then(
        () =>
          this.complete({
            stream, id, deleteEntry: isRequest, replyTo: env?.r,
            reply: isRequest ? { i: env!.i, e: { code: TransportErrorCode.DEAD_LETTER, message: `Message given up after ${deliveries - 1} failed deliveries`, retryable: false } } : undefined,
          }),
        (error: Error) => {
          this.logger.error(`Could not dead-letter ${id}: ${error.message}`);
          this.freeSlot();
          this.untrack(stream, id); // stays pending: claimed and retried later
        },
      );
  }

  /**
   * Dead replicas: those with pending entries on the shared streams or holding ordering-shard leases whose
   * Redis connections are gone. Their entries are claimed now, not after claimIdleMs, and their leases
   * deleted and taken. Costs one XPENDING summary per shared stream and one MGET per check, plus a
   * CLIENT LIST only while another replica holds something.
   */
  private async takeOverDead(): Promise<void> {
    if (!this.running) return;
    const pendingIn = new Map<string, string[]>();
    for (const stream of this.sharedStreams) {
      const summary = (await this.commands!.call('XPENDING', stream, this.service)) as [number, string | null, string | null, Array<[string, string]> | null];
      for (const [consumer] of summary[3] ?? []) {
        if (consumer === this.consumer) continue;
        pendingIn.set(consumer, [...(pendingIn.get(consumer) ?? []), stream]);
      }
    }
    const leases = await this.leases!.othersHolding();
    const settled = Date.now() - this.connectedAt >= RECONNECT_GRACE_MS;
    const dead = settled ? await this.liveness!.dead(new Set([...pendingIn.keys(), ...leases.keys()])) : [];
    for (const consumer of dead) {
      if (!this.running) return;
      let claimed = 0;
      for (const stream of pendingIn.get(consumer) ?? []) {
        const free = this.opts.concurrency - this.handling;
        if (free <= 0) break; // the rest at the next check
        const entries = (await this.commands!.chorusClaimFrom(stream, this.service, this.consumer, consumer, free)).filter((e): e is [string, string[]] => Array.isArray(e));
        claimed += entries.length;
        await this.acceptClaimed(stream, entries);
      }
      const shards = leases.get(consumer) ?? [];
      this.takeovers.entries += claimed;
      if (claimed > 0) this.observer.claimed?.('dead', claimed);
      this.takeovers.leases += shards.length;
      this.logger.warn(`Replica ${consumer} of "${this.service}" has no Redis connection: took over ${claimed} pending messages, evicting its ${shards.length} shard leases`);
      if (shards.length > 0) await this.leases!.evict(consumer, shards);
      this.liveness!.forget(consumer);
    }
    // A handover (fair share after a newcomer) costs a check or two, not lease ticks: the giver releases a
    // drained shard within one check, the taker takes it within the next.
    await this.leases!.releaseDrained();
    if (this.running && this.leases!.wantsMore(leases)) await this.leases!.tick(true);
  }

  /** Claims entries of the shared streams that hung (or dead) replicas left idle for claimIdleMs. */
  private async reclaim(): Promise<void> {
    for (const stream of this.sharedStreams) {
      const free = this.opts.concurrency - this.handling;
      if (!this.running || free <= 0) return;
      const { next, entries } = await autoClaim(this.commands!, stream, this.service, this.consumer, this.opts.claimIdleMs, this.claimCursors.get(stream) ?? '0-0', free);
      this.claimCursors.set(stream, next);
      // Rare by design (a hung but connected replica, or one cut off from Redis): say so, it may mean a double run.
      if (entries.length > 0) {
        this.logger.warn(`Claimed ${entries.length} messages idle for ${this.opts.claimIdleMs} ms on ${stream}`);
        this.observer.claimed?.('idle', entries.length);
      }
      await this.acceptClaimed(stream, entries);
    }
  }

  private async acceptClaimed(stream: string, entries: Array<[string, string[]]>): Promise<void> {
    if (entries.length === 0) return;
    const counts = await deliveryCounts(this.commands!, stream, this.service, entries.map(([id]) => id));
    for (const [id, fields] of entries) this.accept(stream, id, fields, counts.get(id) ?? 2);
  }

  // ShardHost: called by ShardLeases.
  async adoptShard(shard: number): Promise<void> {
    const stream = this.keys.shard(this.service, shard);
    await ensureGroup(this.commands!, stream, this.service);
    // Everything the previous holder left pending, oldest first, before any new entry: per-key order holds.
    let cursor = '0-0';
    do {
      const { next, entries } = await autoClaim(this.commands!, stream, this.service, this.consumer, 0, cursor, 256);
      await this.acceptClaimed(stream, entries);
      cursor = next;
    } while (cursor !== '0-0');
    this.shardStreams.set(stream, shard);
    await this.unblockReader();
  }

  dropShard(shard: number): void {
    this.shardStreams.delete(this.keys.shard(this.service, shard));
  }

  inflightInShard(shard: number): number {
    return this.inflight.get(this.keys.shard(this.service, shard))?.size ?? 0;
  }

  private async touchInflight(): Promise<void> {
    for (const [stream, ids] of this.inflight) {
      if (ids.size > 0) await this.commands!.chorusTouch(stream, this.service, this.consumer, ...ids);
    }
  }

  /** Consumer names are per process: forget those of long-gone processes (nothing pending, idle long). */
  private async removeIdleConsumers(): Promise<void> {
    const maxIdle = Math.max(600_000, this.opts.claimIdleMs * 100);
    for (const stream of [...this.sharedStreams, ...this.shardStreams.keys()]) {
      const rows = (await this.commands!.call('XINFO', 'CONSUMERS', stream, this.service)) as Array<Array<string | number>>;
      for (const row of rows) {
        const info = new Map<string, string | number>();
        for (let i = 0; i + 1 < row.length; i += 2) info.set(String(row[i]), row[i + 1]);
        if (info.get('name') !== this.consumer && Number(info.get('pending')) === 0 && Number(info.get('idle')) > maxIdle) {
          await this.commands!.xgroup('DELCONSUMER', stream, this.service, String(info.get('name')));
        }
      }
    }
  }

  private async ensureGroups(streams: string[]): Promise<void> {
    for (const stream of streams) await ensureGroup(this.commands!, stream, this.service);
  }

  /** Ends a blocking XREADGROUP now (it returns as a timeout): to stop, or to read a newly adopted shard. */
  private async unblockReader(): Promise<void> {
    if (this.readerClientId === undefined || this.commands?.status !== 'ready') return;
    await this.commands.client('UNBLOCK', this.readerClientId).catch(() => undefined);
  }

  private onConnectionReady(connection: Redis): void {
    if (connection === this.commands) this.connectedAt = Date.now();
    if (!this.running) return;
    // After a reconnect: the reader has a new client id, and a restarted Redis has lost the groups.
    if (connection === this.reader) {
      void this.reader.client('ID').then((id) => (this.readerClientId = Number(id)), () => undefined);
    } else {
      void this.ensureGroups(this.sharedStreams).catch((error: Error) => this.logger.warn(`Re-creating groups failed: ${error.message}`));
    }
  }
}
