import { BaseTransportClient } from '../base.client';
import { type ReplyEnvelope, type RequestEnvelope, shardOf } from '../envelope';
import { type RedisStreamsClientOptions, type ResolvedStreamsOptions, resolveStreamsOptions } from '../options';
import { TransportError } from '../transport.error';
import { ConnectionStatus, createConnection, whenReady } from './connection';
import { StreamKeys } from './keys';
import type { ScriptedRedis } from './scripts';
import { SendBatcher } from './send-batcher';
import { Backoff, field, parseRead, settleBy } from './stream-ops';

/**
 * Nest ClientProxy of one service over Redis Streams. `send()` XADDs to the service's request stream (or
 * to an ordering shard when the message has a key) and waits on this instance's own reply stream;
 * `emit()` XADDs to the pattern's event stream, which every subscribed service reads with its own group.
 *
 * The reply stream is private to this instance (random name), read with a blocking XREAD on a dedicated
 * connection. Servers set its TTL on every reply and cap its length; this client trims what it has read
 * and deletes the stream on close. A crashed client therefore leaks at most one stream for replyTtlMs.
 */
export class RedisStreamsClient extends BaseTransportClient {
  private readonly opts: ResolvedStreamsOptions;
  private readonly keys: StreamKeys;
  private readonly service: string;
  private readonly replyStream: string;
  private commands?: ScriptedRedis;
  private reader?: ScriptedRedis;
  private connection?: ConnectionStatus;
  private connected?: Promise<void>;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly backoff = new Backoff();
  private readonly batcher: SendBatcher;

  constructor(options: RedisStreamsClientOptions) {
    const opts = resolveStreamsOptions(options);
    super({ service: options.service, nodeId: opts.nodeId, requestTimeoutMs: opts.requestTimeoutMs, orderingKeys: options.orderingKeys });
    this.opts = opts;
    this.service = options.service;
    this.keys = new StreamKeys(opts.prefix);
    this.replyStream = this.keys.replies(`${opts.nodeId}:${this.instanceId}`);
    this.batcher = new SendBatcher(() => this.commands, opts.maxLen);
  }

  /**
   * Opens the connections and starts reading replies. Waits for Redis at most requestTimeoutMs on the first
   * call (then rejects with the reason; the next call tries again). Once connected it resolves at once, even
   * while Redis is reconnecting: requests then wait in the offline queue, bounded by their deadlines.
   */
  connect(): Promise<void> {
    if (!this.commands) {
      this.commands = createConnection(this.opts, `${this.opts.nodeId}:client:${this.service}:cmd`, true);
      this.reader = createConnection(this.opts, `${this.opts.nodeId}:client:${this.service}:replies`, false);
      this.connection = new ConnectionStatus([this.commands, this.reader], (s) => this.setStatus(s));
      this.running = true;
      this.loopDone = this.replyLoop();
    }
    if (!this.connected) {
      const attempt = Promise.all([whenReady(this.commands, this.opts.requestTimeoutMs), whenReady(this.reader!, this.opts.requestTimeoutMs)]).then(
        () => undefined,
        (error: Error) => {
          throw TransportError.unavailable(`Redis unreachable for service "${this.service}": ${error.message}`);
        },
      );
      this.connected = attempt;
      attempt.catch(() => {
        if (this.connected === attempt) this.connected = undefined;
      });
    }
    return this.connected;
  }

  /** Fails every waiting request with UNAVAILABLE, stops reading replies, deletes the reply stream. */
  async close(): Promise<void> {
    if (!this.commands) return;
    this.running = false;
    this.failAll(`Client of "${this.service}" closed`);
    this.backoff.wake();
    this.connection?.markClosed();
    this.reader?.disconnect(); // blocked in XREAD: QUIT would wait for the block to end
    // disconnect() rejects the pending XREAD, except (an ioredis quirk) on a connection between two reconnect
    // attempts, whose offline queue is never flushed: do not wait for the loop longer than one block.
    await settleBy(this.loopDone, Date.now() + this.opts.blockMs);
    // QUIT would wait in the offline queue forever if Redis is unreachable: only a ready connection says goodbye.
    if (this.commands.status === 'ready') {
      await this.commands.del(this.replyStream).catch(() => undefined);
      await this.commands.quit().catch(() => undefined);
    }
    this.commands.disconnect();
    this.commands = this.reader = undefined;
    this.connected = undefined;
  }

  unwrap<T>(): T {
    if (!this.commands) throw new Error('Not connected yet: call connect() first.');
    return { commands: this.commands, reader: this.reader } as T;
  }

  protected replyAddress(): string {
    return this.replyStream;
  }

  protected async transmitRequest(env: RequestEnvelope): Promise<void> {
    const stream = env.k === undefined ? this.keys.requests(this.service) : this.keys.shard(this.service, shardOf(env.k, this.opts.orderingShards));
    await this.batcher.add(stream, JSON.stringify(env));
  }

  protected async transmitEvent(env: RequestEnvelope): Promise<void> {
    await this.batcher.add(this.keys.events(env.p), JSON.stringify(env));
  }

  private async replyLoop(): Promise<void> {
    // The stream is this instance's alone, so reading from 0 misses nothing and re-reads nothing.
    let lastId = '0-0';
    let lastTrim = 0;
    while (this.running) {
      try {
        const reply = await this.reader!.call('XREAD', 'COUNT', this.opts.readBatch, 'BLOCK', this.opts.blockMs, 'STREAMS', this.replyStream, lastId);
        this.backoff.reset();
        for (const [, entries] of parseRead(reply)) {
          for (const [id, fields] of entries) {
            lastId = id;
            this.deliver(field(fields, 'm'));
          }
        }
        // Read entries are garbage now: trim them now and then (the server's MAXLEN only caps a reader that
        // fell behind; the TTL only a client that is gone).
        if (lastId !== '0-0' && Date.now() - lastTrim > 250) {
          lastTrim = Date.now();
          void this.commands?.xtrim(this.replyStream, 'MINID', lastId).catch(() => undefined);
        }
      } catch {
        // Connection trouble: ioredis reconnects by itself; the loop retries with back-off and never dies.
        if (!this.running) break;
        await this.backoff.wait();
      }
    }
  }

  private deliver(raw: string | undefined): void {
    if (raw === undefined) return;
    let replies: ReplyEnvelope[];
    try {
      replies = JSON.parse(raw) as ReplyEnvelope[];
    } catch {
      return;
    }
    for (const reply of replies) this.onReply(reply);
  }
}
