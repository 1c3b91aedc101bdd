import type { DataSource, EntityManager } from 'typeorm';
import { ChorusError } from '@chorus/protocol';

/** One durable event of a session's stream: audit history and the replay source for reconnecting clients. */
export interface NewSessionEvent {
  readonly type: string;
  /** The user id (or `system`) that caused it. */
  readonly actor: string;
  readonly payload: Record<string, unknown>;
}

export interface StoredSessionEvent extends NewSessionEvent {
  readonly session_id: string;
  readonly seq: number;
  readonly created_at: string;
}

interface EventRow {
  seq: string;
  type: string;
  actor: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

/**
 * Appends events inside an open transaction. The `UPDATE … RETURNING last_seq` takes the session row's lock, so
 * concurrent appenders on any number of replicas queue on it: every event gets the next seq, and a rolled-back
 * transaction rolls its seqs back too — no gap, no duplicate (the primary key `(session_id, seq)` backs this up).
 */
export async function appendInTransaction(tx: EntityManager, sessionId: string, events: readonly NewSessionEvent[]): Promise<StoredSessionEvent[]> {
  if (events.length === 0) return [];
  const head = (await tx.query(
    `UPDATE sessions SET last_seq = last_seq + $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING last_seq`,
    [sessionId, events.length],
  )) as [Array<{ last_seq: string }>, number];
  const rows = head[0];
  if (rows.length === 0) throw new ChorusError('NOT_FOUND', `Session ${sessionId} does not exist (or was deleted).`);
  const first = Number(rows[0].last_seq) - events.length + 1;
  const inserted = (await tx.query(
    `INSERT INTO session_events (session_id, seq, type, actor, payload)
     SELECT $1, $2::bigint + t.ord - 1, t.type, t.actor, t.payload
     FROM unnest($3::text[], $4::text[], $5::jsonb[]) WITH ORDINALITY AS t(type, actor, payload, ord)
     RETURNING seq, type, actor, payload, created_at`,
    [sessionId, first, events.map((e) => e.type), events.map((e) => e.actor), events.map((e) => JSON.stringify(e.payload))],
  )) as EventRow[];
  return inserted.map((r) => toStored(sessionId, r)).sort((a, b) => a.seq - b.seq);
}

function toStored(sessionId: string, r: EventRow): StoredSessionEvent {
  return { session_id: sessionId, seq: Number(r.seq), type: r.type, actor: r.actor, payload: r.payload, created_at: r.created_at.toISOString() };
}

interface Pending {
  readonly event: NewSessionEvent;
  resolve(stored: StoredSessionEvent): void;
  reject(err: unknown): void;
}

/**
 * Group commit for a hot session: while one append transaction for a session is in flight, later appends to
 * the same session wait and then commit together in one transaction (one row lock, one multi-row INSERT).
 * An idle session commits at once — batching adds no latency, it only absorbs bursts. Each caller still gets
 * its own event and seq, and a failed batch rejects every caller in it (nothing is acknowledged unless it
 * committed).
 */
export class SessionEventLog {
  private readonly queues = new Map<string, Pending[]>();
  private readonly flushing = new Set<string>();

  constructor(
    private readonly db: DataSource,
    private readonly maxBatch = 500,
  ) {}

  append(sessionId: string, event: NewSessionEvent): Promise<StoredSessionEvent> {
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(sessionId) ?? [];
      queue.push({ event, resolve, reject });
      this.queues.set(sessionId, queue);
      if (!this.flushing.has(sessionId)) void this.flush(sessionId);
    });
  }

  private async flush(sessionId: string): Promise<void> {
    this.flushing.add(sessionId);
    try {
      for (;;) {
        const queue = this.queues.get(sessionId);
        if (!queue || queue.length === 0) break;
        const batch = queue.splice(0, this.maxBatch);
        try {
          const stored = await this.db.transaction((tx) => appendInTransaction(tx, sessionId, batch.map((p) => p.event)));
          batch.forEach((p, i) => p.resolve(stored[i]));
        } catch (err) {
          batch.forEach((p) => p.reject(err));
        }
      }
    } finally {
      this.flushing.delete(sessionId);
      this.queues.delete(sessionId);
    }
  }

  /** Events after `afterSeq`, in order, at most `limit`. */
  async read(sessionId: string, afterSeq: number, limit: number): Promise<StoredSessionEvent[]> {
    const rows = (await this.db.query(
      `SELECT seq, type, actor, payload, created_at FROM session_events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [sessionId, afterSeq, limit],
    )) as EventRow[];
    return rows.map((r) => toStored(sessionId, r));
  }
}
