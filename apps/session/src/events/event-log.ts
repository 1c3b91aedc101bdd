import { Logger, type LoggerService } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import type { SessionEventOf, SessionStreamEvent } from '@chorus/contracts';
import { rowsOf } from '@chorus/database';
import { ChorusError, parseSessionEventBody, type SessionEventBody, type SessionEventType } from '@chorus/protocol';

/**
 * One durable event to append to a session's stream (audit history and the replay source for reconnecting
 * clients): a `{type, payload}` of libs/protocol's discriminated union, so only declared events are written.
 */
export type NewSessionEvent = SessionEventBody & {
  /** The user id (or `system`) that caused it. */
  readonly actor: string;
  /**
   * Idempotency key, unique within the session: an append whose key is already stored appends nothing and
   * gets the stored event back (see `dedupeKeys`). Omitted: always appended.
   */
  readonly dedupe_key?: string;
};

/** An event as stored: the contract's `SessionStreamEvent`. */
export type StoredSessionEvent = SessionStreamEvent;

/**
 * The stored event of an append of `type`, typed as such. A keyed append may get back what was stored under its
 * key; that is of the same type unless two kinds of event shared a key — a bug, refused here rather than passed
 * on as the wrong message.
 */
export function eventOfType<T extends SessionEventType>(type: T, e: StoredSessionEvent): SessionEventOf<T> {
  if (e.type !== type) throw new Error(`Expected a ${type} event at ${e.session_id}#${e.seq}, found ${e.type}.`);
  return e as SessionEventOf<T>;
}

/** What an append got: the stored event, and whether it was stored earlier (a resend or redelivery). */
export interface Appended {
  readonly event: StoredSessionEvent;
  readonly replayed: boolean;
}

/** The dedupe keys of the session stream (namespaced, so a client key can never match a request id). */
export const dedupeKeys = {
  /** A chat message's client key, per sending user (JSON: user ids may contain any character). */
  chat: (userId: string, clientMsgId: string): string => `chat:${JSON.stringify([userId, clientMsgId])}`,
  /** The one deletion of a chat message (whoever deletes it, and however often it is asked). */
  chatDelete: (messageSeq: number): string => `chat-delete:${messageSeq}`,
  /** The one append a transport request makes: the request id is the same on every redelivery. */
  request: (requestId: string): string => `req:${requestId}`,
  /** One presence lease expiry (its natural key from presence): retried from any replica, recorded once. */
  expiry: (expiryKey: string): string => `expiry:${expiryKey}`,
};

/** A `session_events` row as Postgres returns it: what it holds is checked by `StoredRows.parse`. */
interface EventRow {
  seq: string;
  type: string;
  actor: string;
  payload: unknown;
  created_at: Date;
}

/** Where a row read back from `session_events` becomes a typed event — or a logged, counted unreadable one. */
interface StoredRows {
  parse(sessionId: string, row: EventRow): StoredSessionEvent | undefined;
}

/**
 * Appends to several sessions in one transaction: lock the session rows in id order (concurrent appenders on
 * any number of replicas queue on these locks: every event gets the next seq, and a rolled-back transaction
 * rolls its seqs back too — no gap, no duplicate), drop the keyed events already stored, advance each head by
 * the count of the rest, insert them with one statement. The result lists, per session, one `Appended` per
 * input event in input order. Sessions that do not exist (or were deleted) are left out, so their callers
 * fail alone.
 *
 * Dedupe is decided under the row lock: whoever held it before us has committed (or rolled back), and the
 * lookup is a new statement, so under READ COMMITTED it sees that commit — two replicas appending the same key
 * at once store it once. The partial unique index `(session_id, dedupe_key)` backs this up.
 */
async function appendMany(tx: EntityManager, bySession: ReadonlyMap<string, readonly NewSessionEvent[]>, rows: StoredRows): Promise<Map<string, Appended[]>> {
  const ids = [...bySession.keys()].sort();
  // FOR NO KEY UPDATE, not FOR UPDATE: appenders still queue on each other, but not on the KEY SHARE locks that
  // foreign-key checks take on the session row (a connect's session_peers insert, a participant upsert), so a
  // transaction that inserted such a row before appending cannot deadlock with another doing the same.
  await tx.query(`SELECT id FROM sessions WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`, [ids]);
  const existing = await storedByKey(tx, bySession, rows);
  // Per session: for each input event, either a stored event (replay) or the index of the fresh event it is
  // (the first of equal keys in one batch is fresh, later ones repeat it).
  const plans = new Map<string, Plan[]>();
  const fresh = new Map<string, NewSessionEvent[]>();
  for (const [sessionId, events] of bySession) {
    const mine: NewSessionEvent[] = [];
    const firstOfKey = new Map<string, number>();
    plans.set(
      sessionId,
      events.map((e) => {
        const key = e.dedupe_key;
        const before = key === undefined ? undefined : existing.get(`${sessionId} ${key}`);
        if (before) return { stored: before };
        const sameBatch = key === undefined ? undefined : firstOfKey.get(key);
        if (sameBatch !== undefined) return { fresh: sameBatch, repeat: true };
        if (key !== undefined) firstOfKey.set(key, mine.length);
        mine.push(e);
        return { fresh: mine.length - 1 };
      }),
    );
    fresh.set(sessionId, mine);
  }
  const heads = rowsOf<{ id: string; last_seq: string }>(
    await tx.query(
      `UPDATE sessions s SET last_seq = s.last_seq + c.n, updated_at = now()
       FROM unnest($1::uuid[], $2::int[]) AS c(id, n)
       WHERE s.id = c.id AND s.deleted_at IS NULL
       RETURNING s.id, s.last_seq`,
      [ids, ids.map((id) => (fresh.get(id) as NewSessionEvent[]).length)],
    ),
  );
  const sessionCol: string[] = [];
  const seqCol: number[] = [];
  const events: NewSessionEvent[] = [];
  const bySeq = new Map<string, NewSessionEvent>();
  for (const head of heads) {
    const mine = fresh.get(head.id) as NewSessionEvent[];
    const first = Number(head.last_seq) - mine.length + 1;
    mine.forEach((e, i) => {
      sessionCol.push(head.id);
      seqCol.push(first + i);
      events.push(e);
      bySeq.set(`${head.id} ${first + i}`, e);
    });
  }
  const inserted = new Map<string, StoredSessionEvent>();
  if (events.length > 0) {
    const stored = (await tx.query(
      `INSERT INTO session_events (session_id, seq, type, actor, payload, dedupe_key)
       SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[], $6::text[])
       RETURNING session_id, seq, created_at`,
      [sessionCol, seqCol, events.map((e) => e.type), events.map((e) => e.actor), events.map((e) => JSON.stringify(e.payload)), events.map((e) => e.dedupe_key ?? null)],
    )) as Array<{ session_id: string; seq: string; created_at: Date }>;
    // The event is what we just wrote (typed, so no parse): only its seq and commit time come from the row.
    for (const row of stored) {
      const key = `${row.session_id} ${row.seq}`;
      inserted.set(key, appendedEvent(row.session_id, Number(row.seq), row.created_at, bySeq.get(key) as NewSessionEvent));
    }
  }
  const result = new Map<string, Appended[]>();
  for (const head of heads) {
    const mine = fresh.get(head.id) as NewSessionEvent[];
    const first = Number(head.last_seq) - mine.length + 1;
    const plan = plans.get(head.id) as Plan[];
    result.set(
      head.id,
      plan.map((p) => ('stored' in p ? { event: p.stored, replayed: true } : { event: inserted.get(`${head.id} ${first + p.fresh}`) as StoredSessionEvent, replayed: p.repeat === true })),
    );
  }
  return result;
}

type Plan = { stored: StoredSessionEvent } | { fresh: number; repeat?: true };

/** The stored events of the batch's dedupe keys, by `<session id> <key>` (empty when no event is keyed). */
async function storedByKey(tx: EntityManager, bySession: ReadonlyMap<string, readonly NewSessionEvent[]>, parser: StoredRows): Promise<Map<string, StoredSessionEvent>> {
  const sessions: string[] = [];
  const keys: string[] = [];
  for (const [sessionId, events] of bySession) {
    for (const e of events) {
      if (e.dedupe_key === undefined) continue;
      sessions.push(sessionId);
      keys.push(e.dedupe_key);
    }
  }
  const found = new Map<string, StoredSessionEvent>();
  if (keys.length === 0) return found;
  const rows = (await tx.query(
    `SELECT e.session_id, e.dedupe_key, e.seq, e.type, e.actor, e.payload, e.created_at
     FROM session_events e JOIN unnest($1::uuid[], $2::text[]) AS k(session_id, dedupe_key)
       ON e.session_id = k.session_id AND e.dedupe_key = k.dedupe_key`,
    [sessions, keys],
  )) as Array<EventRow & { session_id: string; dedupe_key: string }>;
  for (const row of rows) {
    const event = parser.parse(row.session_id, row);
    // The resend of a stored event whose row no longer reads as one: it cannot be answered with the original,
    // and appending it again would store it twice. Already logged and counted by the parser.
    if (event === undefined) throw new Error(`The stored event ${row.session_id}#${row.seq} of dedupe key ${row.dedupe_key} is unreadable.`);
    found.set(`${row.session_id} ${row.dedupe_key}`, event);
  }
  return found;
}

function appendedEvent(sessionId: string, seq: number, createdAt: Date, e: NewSessionEvent): StoredSessionEvent {
  const { dedupe_key: _key, ...event } = e;
  return { ...event, session_id: sessionId, seq, created_at: createdAt.toISOString() };
}

interface Pending {
  readonly sessionId: string;
  readonly event: NewSessionEvent;
  resolve(appended: Appended): void;
  reject(err: unknown): void;
}

/** Unreadable rows remembered as reported (see `SessionEventLog.reported`). */
const MAX_REPORTED = 10_000;

export interface SessionEventLogOptions {
  /** Appends per flush at most. Default 1,000. */
  readonly maxBatch?: number;
  /** Flushes (transactions) in flight at once. Default 4. */
  readonly maxParallel?: number;
  /** Where unreadable stored rows are reported (default: Nest's logger). */
  readonly logger?: LoggerService;
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
  private unreadable = 0;
  /**
   * The unreadable rows already reported, so a row is logged and counted once per replica: gateways read the
   * tail of a quiet session every few seconds (position checks), and one bad tail row must not flood the log.
   */
  private readonly reported = new Set<string>();
  private readonly rows: StoredRows = { parse: (sessionId, row) => this.parseRow(sessionId, row) };

  private readonly maxBatch: number;
  private readonly maxParallel: number;
  private readonly logger: LoggerService;

  constructor(
    private readonly db: DataSource,
    options: SessionEventLogOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1_000;
    this.maxParallel = options.maxParallel ?? 4;
    this.logger = options.logger ?? new Logger('SessionEventLog');
  }

  /**
   * Appends events inside an open transaction (one session). Same rules as the group commit, dedupe included:
   * a keyed event already stored comes back as stored.
   */
  async appendInTransaction(tx: EntityManager, sessionId: string, events: readonly NewSessionEvent[]): Promise<StoredSessionEvent[]> {
    if (events.length === 0) return [];
    const stored = (await appendMany(tx, new Map([[sessionId, events]]), this.rows)).get(sessionId);
    if (stored === undefined) throw new ChorusError('NOT_FOUND', `Session ${sessionId} does not exist (or was deleted).`);
    return stored.map((a) => a.event);
  }

  /** Distinct rows read back that were not a durable event of this version (each logged once): `chorus_session_unreadable_events_total`. */
  unreadableCount(): number {
    return this.unreadable;
  }

  /** Appends one event; with a `dedupe_key` already stored, the stored event instead. */
  async append(sessionId: string, event: NewSessionEvent): Promise<StoredSessionEvent> {
    return (await this.appendOnce(sessionId, event)).event;
  }

  /** `append`, telling whether the event was stored earlier (by its `dedupe_key`). */
  appendOnce(sessionId: string, event: NewSessionEvent): Promise<Appended> {
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
      const stored = await this.db.transaction((tx) => appendMany(tx, new Map([...bySession].map(([id, pending]) => [id, pending.map((p) => p.event)])), this.rows));
      for (const [sessionId, pending] of bySession) {
        const events = stored.get(sessionId);
        if (events === undefined) pending.forEach((p) => p.reject(new ChorusError('NOT_FOUND', `Session ${sessionId} does not exist (or was deleted).`)));
        else pending.forEach((p, i) => p.resolve(events[i]));
      }
    } catch (err) {
      batch.forEach((p) => p.reject(err));
    }
  }

  /**
   * Events after `afterSeq`, in order, at most `limit`. A row that is not a durable event of this version is
   * logged, counted and left out (its seq is then missing from the page): readers go on past it instead of
   * stalling on it forever, and nothing reaches a client with fields blanked out.
   */
  async read(sessionId: string, afterSeq: number, limit: number): Promise<StoredSessionEvent[]> {
    const rows = (await this.db.query(
      `SELECT seq, type, actor, payload, created_at FROM session_events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [sessionId, afterSeq, limit],
    )) as EventRow[];
    return rows.flatMap((r) => this.parseRow(sessionId, r) ?? []);
  }

  /**
   * The chat messages at `seqs` and every edit and deletion of them, in seq order (`db`: a transaction that
   * holds the session row lock, when the answer decides an append). Other events at those seqs are left out.
   */
  async chatThreads(db: DataSource | EntityManager, sessionId: string, seqs: readonly number[]): Promise<StoredSessionEvent[]> {
    if (seqs.length === 0) return [];
    const rows = (await db.query(
      `SELECT seq, type, actor, payload, created_at FROM session_events
       WHERE session_id = $1 AND (
         (seq = ANY($2::bigint[]) AND type = 'chat_message')
         OR (type IN ('message_update', 'message_delete') AND (payload->>'message_seq')::bigint = ANY($2::bigint[])))
       ORDER BY seq`,
      [sessionId, seqs],
    )) as EventRow[];
    return rows.flatMap((r) => this.parseRow(sessionId, r) ?? []);
  }

  /** The one place a stored row becomes a typed event. */
  private parseRow(sessionId: string, r: EventRow): StoredSessionEvent | undefined {
    const body = parseSessionEventBody(r.type, r.payload);
    if (body.ok) return { ...body.value, session_id: sessionId, seq: Number(r.seq), actor: r.actor, created_at: r.created_at.toISOString() };
    const key = `${sessionId} ${r.seq}`;
    if (!this.reported.has(key)) {
      // Bounded: past the cap a row may be reported again, which is noise, not a leak.
      if (this.reported.size >= MAX_REPORTED) this.reported.clear();
      this.reported.add(key);
      this.unreadable++;
      this.logger.error(`Session ${sessionId}: stored event #${r.seq} is unreadable, left out: ${body.reason}`, undefined, 'SessionEventLog');
    }
    return undefined;
  }
}
