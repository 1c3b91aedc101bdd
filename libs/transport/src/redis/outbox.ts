import type { LoggerService } from '@nestjs/common';
import type { ReplyEnvelope } from '../envelope';
import type { ScriptedRedis } from './scripts';

/** One handled message: its acknowledgement, and its reply if it was a request. */
export interface Completion {
  stream: string;
  id: string;
  /** XDEL after XACK: true for request streams (one group); event streams are shared by several groups. */
  deleteEntry: boolean;
  replyTo?: string;
  reply?: ReplyEnvelope;
}

/**
 * Batches replies and acknowledgements. Everything completed within one turn of the event loop goes out as
 * one atomic script call: replies to the same client are one stream entry (a JSON array), acks of the same
 * stream one XACK. This is what lets the transport outrun pub/sub.
 *
 * Invariant: a message is acknowledged in the same script as its reply, never before. If the script fails
 * (Redis gone for good), the message stays pending and another replica, or this one, claims it later:
 * at-least-once, never lost.
 */
export class ReplyOutbox {
  private batch: Array<{ completion: Completion; done: () => void }> = [];
  private scheduled = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: ScriptedRedis,
    private readonly group: string,
    private readonly replyMaxLen: number,
    private readonly replyTtlMs: number,
    private readonly logger: LoggerService,
  ) {}

  /** Queues a completion; `done` runs once it is written (or the write failed and was logged). */
  add(completion: Completion, done: () => void): void {
    this.batch.push({ completion, done });
    if (!this.scheduled) {
      this.scheduled = true;
      // setImmediate, not nextTick: let every handler that finishes in this I/O phase join the batch.
      setImmediate(() => {
        this.scheduled = false;
        this.flushing = this.flush();
      });
    }
  }

  /** Resolves when everything queued so far has been written. */
  async drain(): Promise<void> {
    while (this.scheduled || this.batch.length > 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.flushing;
  }

  private async flush(): Promise<void> {
    const items = this.batch;
    this.batch = [];
    const replies = new Map<string, ReplyEnvelope[]>();
    const acks = new Map<string, { del: boolean; ids: string[] }>();
    for (const { completion: c } of items) {
      if (c.replyTo !== undefined && c.reply !== undefined) {
        const list = replies.get(c.replyTo);
        if (list) list.push(c.reply);
        else replies.set(c.replyTo, [c.reply]);
      }
      const ack = acks.get(c.stream);
      if (ack) ack.ids.push(c.id);
      else acks.set(c.stream, { del: c.deleteEntry, ids: [c.id] });
    }
    const keys: string[] = [...replies.keys(), ...acks.keys()];
    const args: (string | number)[] = [this.group, this.replyMaxLen, this.replyTtlMs, replies.size, acks.size];
    for (const list of replies.values()) args.push(JSON.stringify(list));
    for (const { del, ids } of acks.values()) args.push(del ? '1' : '0', ids.length, ...ids);
    try {
      await this.redis.chorusAckBatch(keys.length, ...keys, ...args);
    } catch (error) {
      this.logger.error(`Could not write ${replies.size} reply batches / ${items.length} acks (they stay pending and will be claimed): ${(error as Error).message}`);
    } finally {
      for (const item of items) item.done();
    }
  }
}
