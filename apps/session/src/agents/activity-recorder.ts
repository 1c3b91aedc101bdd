import { Logger, type LoggerService, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { rowsOf } from '@chorus/database';
import type { SessionEventPayload } from '@chorus/protocol';
import { startPeriodic, type PeriodicTask } from '@chorus/runtime';
import type { NewSessionEvent, SessionEventLog, StoredSessionEvent } from '../events/event-log';
import type { SessionEventPublisher } from '../events/event-publisher';

export type AgentStatusValue = SessionEventPayload<'agent_status_changed'>['status'];

export interface ActivityOptions {
  /**
   * AGENT_ACTIVITY_COALESCE_MS: an agent's ops on one document less than this apart are one `document_edited`
   * entry (a pause this long ends the run), and its status changes are recorded at most this often.
   */
  readonly coalesceMs: number;
  /** A run of edits longer than this ends at its next op, so an agent editing without a pause still shows. */
  readonly maxRunMs: number;
}

export const DEFAULT_ACTIVITY_OPTIONS: ActivityOptions = { coalesceMs: 2_000, maxRunMs: 60_000 };

type Append = (events: NewSessionEvent[]) => Promise<StoredSessionEvent[]>;

interface RunRow {
  session_id: string;
  agent_id: string;
  doc_id: string;
  from_version: string;
  to_version: string;
  ops: number;
  started_at: Date;
  last_at: Date;
  closed: boolean;
}

interface StatusRow {
  status: AgentStatusValue;
  detail: string | null;
  pending_status: AgentStatusValue | null;
  pending_detail: string | null;
  /** The interval since the last recorded change has passed: a change may be recorded now. */
  may_record: boolean;
}

const RUN_COLUMNS = 'session_id, agent_id, doc_id, from_version, to_version, ops, started_at, last_at, closed';

function editedEvent(run: RunRow): NewSessionEvent {
  return {
    type: 'document_edited',
    actor: run.agent_id,
    payload: {
      agent_id: run.agent_id,
      doc_id: run.doc_id,
      from_version: Number(run.from_version),
      to_version: Number(run.to_version),
      ops: run.ops,
      started_at: run.started_at.toISOString(),
      ended_at: run.last_at.toISOString(),
    },
  };
}

function statusEvent(agentId: string, status: AgentStatusValue, detail: string | null): NewSessionEvent {
  return { type: 'agent_status_changed', actor: agentId, payload: { agent_id: agentId, status, detail } };
}

/**
 * The agents' document edits and status changes as durable session events, for the activity feed
 * (docs/agents.md, "History and activity"), coalesced so the feed (and storage) gets one entry per run of
 * edits and one per status transition, not one per keystroke or report.
 *
 * Correct with any number of replicas: each agent's state is one row (`agent_edit_runs`, `agent_statuses`),
 * changed under its row lock in the transaction that appends the event it produces, so a run or a status is
 * recorded once whichever replica ends it (a report, the agent's next activity, or the sweep of any replica).
 * Lock order everywhere: queue row, status row, run row, session row (the append).
 */
export class AgentActivityRecorder {
  constructor(
    private readonly db: DataSource,
    private readonly events: SessionEventLog,
    private readonly publisher: SessionEventPublisher,
    private readonly options: ActivityOptions = DEFAULT_ACTIVITY_OPTIONS,
  ) {}

  /**
   * One committed OT op of the agent on `docId` at `version`: extends its run of that document, or (paused too
   * long, or a minute old) ends it and starts another. Runs are per document, so an agent switching between two
   * files makes two entries, not one per switch.
   */
  async edited(sessionId: string, agentId: string, docId: string, version: number): Promise<void> {
    await this.inTransaction(sessionId, async (tx, append) => {
      const inserted = rowsOf<{ agent_id: string }>(
        await tx.query(
          `INSERT INTO agent_edit_runs (session_id, agent_id, doc_id, from_version, to_version, ops, versions) VALUES ($1, $2, $3, $4, $4, 1, ARRAY[$4::bigint])
           ON CONFLICT (session_id, agent_id, doc_id) DO NOTHING RETURNING agent_id`,
          [sessionId, agentId, docId, version],
        ),
      );
      if (inserted.length > 0) return;
      const [run] = rowsOf<RunRow & { stale: boolean; seen: boolean }>(
        await tx.query(
          `SELECT ${RUN_COLUMNS}, (last_at < now() - $3 * interval '1 millisecond' OR started_at < now() - $4 * interval '1 millisecond') AS stale,
             $5::bigint = ANY(versions) AS seen
           FROM agent_edit_runs WHERE session_id = $1 AND agent_id = $2 AND doc_id = $6 FOR UPDATE`,
          [sessionId, agentId, this.options.coalesceMs, this.options.maxRunMs, version, docId],
        ),
      );
      if (!run) return; // the session went meanwhile (its rows cascade)
      // A redelivered report of an op this run (open or recorded) already holds.
      if (run.seen) return;
      if (!run.closed && !run.stale) {
        await tx.query(
          `UPDATE agent_edit_runs SET from_version = LEAST(from_version, $3), to_version = GREATEST(to_version, $3), ops = ops + 1, versions = array_append(versions, $3::bigint), last_at = now()
           WHERE session_id = $1 AND agent_id = $2 AND doc_id = $4`,
          [sessionId, agentId, version, docId],
        );
        return;
      }
      if (!run.closed) await append([editedEvent(run)]);
      await tx.query(
        `UPDATE agent_edit_runs SET from_version = $4, to_version = $4, ops = 1, versions = ARRAY[$4::bigint], started_at = now(), last_at = now(), closed = false
         WHERE session_id = $1 AND agent_id = $2 AND doc_id = $3`,
        [sessionId, agentId, docId, version],
      );
    });
  }

  /**
   * The agent reported a status. Recorded only when it differs from the last recorded one, and at most once per
   * interval: a change inside the interval is kept as pending (the newest wins; going back cancels it) and
   * recorded when the interval has passed, by the next report or the sweep. True when an event was appended.
   */
  async status(sessionId: string, agentId: string, status: AgentStatusValue, detail: string | null): Promise<boolean> {
    return this.inTransaction(sessionId, async (tx, append) => {
      const inserted = rowsOf<{ agent_id: string }>(
        await tx.query(`INSERT INTO agent_statuses (session_id, agent_id, status, detail) VALUES ($1, $2, $3, $4) ON CONFLICT (session_id, agent_id) DO NOTHING RETURNING agent_id`, [
          sessionId,
          agentId,
          status,
          detail,
        ]),
      );
      if (inserted.length > 0) {
        await this.closeRunIn(tx, sessionId, agentId, append);
        await append([statusEvent(agentId, status, detail)]);
        return true;
      }
      const [row] = rowsOf<StatusRow>(
        await tx.query(
          `SELECT status, detail, pending_status, pending_detail, recorded_at <= now() - $3 * interval '1 millisecond' AS may_record
           FROM agent_statuses WHERE session_id = $1 AND agent_id = $2 FOR UPDATE`,
          [sessionId, agentId, this.options.coalesceMs],
        ),
      );
      if (!row) return false;
      const current = row.pending_status ?? row.status;
      if (status === current) {
        // A repeat: nothing new to record (a pending change keeps the newest detail).
        if (row.pending_status !== null && row.pending_detail !== detail) {
          await tx.query(`UPDATE agent_statuses SET pending_detail = $3 WHERE session_id = $1 AND agent_id = $2`, [sessionId, agentId, detail]);
        }
        return false;
      }
      if (status === row.status) {
        // Back to the recorded status before the pending change was recorded: no transition after all.
        await tx.query(`UPDATE agent_statuses SET pending_status = NULL, pending_detail = NULL, due_at = NULL WHERE session_id = $1 AND agent_id = $2`, [sessionId, agentId]);
        return false;
      }
      if (!row.may_record) {
        await tx.query(
          `UPDATE agent_statuses SET pending_status = $3, pending_detail = $4, due_at = recorded_at + $5 * interval '1 millisecond' WHERE session_id = $1 AND agent_id = $2`,
          [sessionId, agentId, status, detail, this.options.coalesceMs],
        );
        return false;
      }
      await this.recordStatus(tx, append, sessionId, agentId, status, detail);
      return true;
    });
  }

  /** Ends the agent's open runs of edits, if any, inside a transaction of another activity (before its events). */
  async closeRunIn(tx: EntityManager, sessionId: string, agentId: string, append: Append): Promise<void> {
    const runs = rowsOf<RunRow>(
      await tx.query(`UPDATE agent_edit_runs SET closed = true WHERE session_id = $1 AND agent_id = $2 AND NOT closed RETURNING ${RUN_COLUMNS}`, [sessionId, agentId]),
    );
    if (runs.length > 0) await append(runs.sort((x, y) => x.started_at.getTime() - y.started_at.getTime()).map(editedEvent));
  }

  /** Ends the agent's open runs of edits, if any (before an activity that is appended outside a transaction). */
  async closeRun(sessionId: string, agentId: string): Promise<void> {
    const open = rowsOf<{ agent_id: string }>(await this.db.query(`SELECT agent_id FROM agent_edit_runs WHERE session_id = $1 AND agent_id = $2 AND NOT closed`, [sessionId, agentId]));
    if (open.length === 0) return;
    await this.inTransaction(sessionId, (tx, append) => this.closeRunIn(tx, sessionId, agentId, append));
  }

  /**
   * Every replica, every interval: runs paused for the interval end, pending statuses whose time came are
   * recorded, and closed runs older than ten minutes (kept to recognise redelivered reports) go.
   */
  async sweep(limit = 100): Promise<number> {
    let recorded = 0;
    const runs = rowsOf<{ session_id: string; agent_id: string; doc_id: string }>(
      await this.db.query(`SELECT session_id, agent_id, doc_id FROM agent_edit_runs WHERE NOT closed AND last_at < now() - $1 * interval '1 millisecond' LIMIT $2`, [this.options.coalesceMs, limit]),
    );
    for (const r of runs) {
      recorded += await this.inTransaction(r.session_id, async (tx, append) => {
        const [run] = rowsOf<RunRow>(
          await tx.query(
            `UPDATE agent_edit_runs SET closed = true WHERE session_id = $1 AND agent_id = $2 AND doc_id = $3 AND NOT closed AND last_at < now() - $4 * interval '1 millisecond' RETURNING ${RUN_COLUMNS}`,
            [r.session_id, r.agent_id, r.doc_id, this.options.coalesceMs],
          ),
        );
        if (!run) return 0;
        await append([editedEvent(run)]);
        return 1;
      });
    }
    const due = rowsOf<{ session_id: string; agent_id: string }>(await this.db.query(`SELECT session_id, agent_id FROM agent_statuses WHERE due_at <= now() LIMIT $1`, [limit]));
    for (const d of due) {
      recorded += await this.inTransaction(d.session_id, async (tx, append) => {
        const [row] = rowsOf<{ pending_status: AgentStatusValue; pending_detail: string | null }>(
          await tx.query(`SELECT pending_status, pending_detail FROM agent_statuses WHERE session_id = $1 AND agent_id = $2 AND due_at <= now() AND pending_status IS NOT NULL FOR UPDATE SKIP LOCKED`, [
            d.session_id,
            d.agent_id,
          ]),
        );
        if (!row) return 0;
        await this.recordStatus(tx, append, d.session_id, d.agent_id, row.pending_status, row.pending_detail);
        return 1;
      });
    }
    await this.db.query(`DELETE FROM agent_edit_runs WHERE closed AND last_at < now() - interval '10 minutes'`);
    return recorded;
  }

  private async recordStatus(tx: EntityManager, append: Append, sessionId: string, agentId: string, status: AgentStatusValue, detail: string | null): Promise<void> {
    await this.closeRunIn(tx, sessionId, agentId, append);
    await append([statusEvent(agentId, status, detail)]);
    await tx.query(
      `UPDATE agent_statuses SET status = $3, detail = $4, recorded_at = now(), pending_status = NULL, pending_detail = NULL, due_at = NULL WHERE session_id = $1 AND agent_id = $2`,
      [sessionId, agentId, status, detail],
    );
  }

  /** A transaction whose appended events are published after its commit (durable first). */
  private async inTransaction<T>(sessionId: string, work: (tx: EntityManager, append: Append) => Promise<T>): Promise<T> {
    const appended: StoredSessionEvent[] = [];
    const result = await this.db.transaction((tx) =>
      work(tx, async (events) => {
        const stored = await this.events.appendInTransaction(tx, sessionId, events);
        appended.push(...stored);
        return stored;
      }),
    );
    if (appended.length > 0) await this.publisher.publish(appended);
    return result;
  }
}

/** Runs the recorder's sweep on every replica (each end is decided under the agent's row lock: recorded once). */
export class ActivitySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private task: PeriodicTask | undefined;

  constructor(
    private readonly recorder: AgentActivityRecorder,
    private readonly intervalMs: number,
    private readonly logger: LoggerService = new Logger('ActivitySweeper'),
  ) {}

  onApplicationBootstrap(): void {
    this.task = startPeriodic('ActivitySweeper', this.intervalMs, () => this.runOnce(), this.logger);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task?.stop();
  }

  async runOnce(): Promise<number> {
    return this.recorder.sweep();
  }
}
