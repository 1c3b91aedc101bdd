import type { DataSource, EntityManager } from 'typeorm';
import { rowsOf } from '@chorus/database';
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

/**
 * Appends to several sessions in one transaction: lock the session rows in id order, advance each head by its
 * count, insert every event with one statement. Sessions that do not exist (or were deleted) are left out of
 * the result, so their callers fail alone.
 */
async function appendMany(tx: EntityManager, bySession: Map<string, Pending[]>): Promise<Map<string, StoredSessionEvent[]>> {
  const ids = [...bySession.keys()].sort();
  await tx.query(`SELECT id FROM sessions WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`, [ids]);
  const heads = rowsOf<{ id: string; last_seq: string }>(
    await tx.query(
      `UPDATE sessions s SET last_seq = s.last_seq + c.n, updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS c(id, n)
       WHERE s.id = c.id AND s.deleted_at IS NULL
       RETURNING s.id, s.last_seq`,
      [ids, ids.map((id) => (bySession.get(id) as Pending[]).length)],
    ),
  );
  const sessionCol: string[] = [];
  const seqCol: number[] = [];
  const events: NewSessionEvent[] = [];
  for (const head of heads) {
    const pending = bySession.get(head.id) as Pending[];
    const first = Number(head.last_seq) - pending.length + 1;
    pending.forEach((p, i) => {
      sessionCol.push(head.id);
      seqCol.push(first + i);
      events.push(p.event);
    });
  }
  const result = new Map<string, StoredSessionEvent[]>();
  if (events.length === 0) return result;
  const inserted = (await tx.query(
    `INSERT INTO session_events (session_id, seq, type, actor, payload)
     SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[])
     RETURNING session_id, seq, type, actor, payload, created_at`,
    [sessionCol, seqCol, events.map((e) => e.type), events.map((e) => e.actor), events.map((e) => JSON.stringify(e.payload))],
  )) as Array<EventRow & { session_id: string }>;
  for (const row of inserted) result.set(row.session_id, [...(result.get(row.session_id) ?? []), toStored(row.session_id, row)]);
  for (const list of result.values()) list.sort((a, b) => a.seq - b.seq);
  return result;
}

function toStored(sessionId: string, r: EventRow): StoredSessionEvent {
  return { session_id: sessionId, seq: Number(r.seq), type: r.type, actor: r.actor, payload: r.payload, created_at: r.created_at.toISOString() };
}

interface Pending {
  readonly sessionId: string;
  readonly event: NewSessionEvent;
  resolve(stored: StoredSessionEvent): void;
  reject(err: unknown): void;
}

/**
 * Group commit for the session stream. Appends queue up; a flush takes every queued append of the sessions not
 * already being flushed and commits them in ONE transaction (rows locked in id order, so flushes of several
 * replicas never deadlock), up to `maxParallel` flushes at a time. An idle stream commits at once — batching
 * adds no latency, it absorbs bursts, whether they hit one hot session or many. Per session, appends commit
 * in call order (one flush per session at a time). Each caller gets its own event and seq; nothing is
 * acknowledged unless it committed, and an unknown or deleted session fails only its own callers.
 */
export class SessionEventLog {
  private queue: Pending[] = [];
  private readonly inFlight = new Set<string>();
  private flushes = 0;

  constructor(
    private readonly db: DataSource,
    private readonly maxBatch = 1_000,
    private readonly maxParallel = 4,
  ) {}

  append(sessionId: string, event: NewSessionEvent): Promise<StoredSessionEvent> {
    return new Promise((resolve, reject) => {
      this.queue.push({ sessionId, event, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.flushes < this.maxParallel && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return;
      this.flushes++;
      void this.flush(batch).finally(() => {
        this.flushes--;
        for (const p of batch) this.inFlight.delete(p.sessionId);
        this.pump();
      });
    }
  }

  /** Queued appends of sessions with no flush in flight, in queue order (keeps per-session order). */
  private take(): Pending[] {
    const taken: Pending[] = [];
    const rest: Pending[] = [];
    const blocked = new Set(this.inFlight);
    for (const p of this.queue) {
      if (taken.length < this.maxBatch && !blocked.has(p.sessionId)) taken.push(p);
      else {
        rest.push(p);
        // Later appends of a session must not overtake one left in the queue.
        blocked.add(p.sessionId);
      }
    }
    this.queue = rest;
    for (const p of taken) this.inFlight.add(p.sessionId);
    return taken;
  }

  private async flush(batch: Pending[]): Promise<void> {
    const bySession = new Map<string, Pending[]>();
    for (const p of batch) bySession.set(p.sessionId, [...(bySession.get(p.sessionId) ?? []), p]);
    try {
      const stored = await this.db.transaction((tx) => appendMany(tx, bySession));
      for (const [sessionId, pending] of bySession) {
        const events = stored.get(sessionId);
        if (events === undefined) pending.forEach((p) => p.reject(new ChorusError('NOT_FOUND', `Session ${sessionId} does not exist (or was deleted).`)));
        else pending.forEach((p, i) => p.resolve(events[i]));
      }
    } catch (err) {
      batch.forEach((p) => p.reject(err));
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
