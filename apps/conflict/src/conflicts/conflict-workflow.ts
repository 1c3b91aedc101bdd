import type { LoggerService } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { authorize } from '@chorus/auth';
import type { ConflictResolution } from '@chorus/contracts';
import { rowsOf } from '@chorus/database';
import { validateOpShape, type TextOp } from '@chorus/ot';
import { ChorusError, conflictViewSchema, type ConflictList, type ConflictStrategy, type ConflictView, type ConflictsQuery } from '@chorus/protocol';
import type { DocumentReader } from '../documents/document-reader';
import type { Caller, ConflictDetected, ConflictOptions, SubmitResult } from '../documents/document.types';
import { readOps } from '../persistence/doc.repository';
import type { PendingSubmit } from '../submit/commit-batch';
import { conflictRegion, replaceOp } from './conflict-region';

interface ConflictRow {
  id: string;
  session_id: string;
  doc_id: string;
  version: string;
  base_version: string;
  peer_id: string;
  user_id: string;
  peers: string[];
  region_start: number;
  region_end: number;
  merged_text: string;
  mine_text: string;
  theirs_text: string;
  op: unknown[];
  overlapped_versions: number[];
  state: 'open' | 'resolved';
  strategy: ConflictStrategy | null;
  resolved_text: string | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  resolved_version: string | null;
  created_at: Date;
}

/** The client id a resolution's op is committed under: one per conflict, so a retried resolution dedupes. */
export function resolutionClientId(conflictId: string): string {
  return `resolve:${conflictId}`;
}

/**
 * The conflict workflow (docs/files.md). `record` runs after a commit that reported overlaps: the conflict is
 * stored before `conflict_detected` is returned to the gateway (durable before the push), with the region's text
 * in the three versions. `resolve` turns the chosen text into an ordinary op of the resolver on the version the
 * conflict was recorded at, committed by the same committer as every edit (transformed to head, lock-checked).
 */
export class ConflictWorkflow {
  private readonly counts = { recorded: 0, recordFailures: 0, resolved: 0 };

  constructor(
    private readonly db: DataSource,
    private readonly reader: DocumentReader,
    private readonly commit: (submit: PendingSubmit) => Promise<SubmitResult>,
    private readonly options: ConflictOptions,
    private readonly logger: LoggerService,
  ) {}

  /**
   * Records each reported conflict and returns them with their `conflict_id`. A failure to record is logged and
   * counted, never the submit's failure (its op is committed): the notice then goes out without an id.
   */
  async record(submit: PendingSubmit, result: SubmitResult): Promise<SubmitResult> {
    if (result.duplicate || result.conflicts.length === 0) return result;
    const conflicts: ConflictDetected[] = [];
    for (const c of result.conflicts) {
      try {
        conflicts.push({ ...c, conflict_id: await this.insert(submit, c, result.broadcast.op) });
        this.counts.recorded++;
      } catch (err) {
        this.counts.recordFailures++;
        this.logger.error(`Conflict at ${submit.docId}@${c.version} of session ${submit.sessionId} not recorded: ${(err as Error).message}`, undefined, 'ConflictWorkflow');
        conflicts.push(c);
      }
    }
    return { ...result, conflicts };
  }

  private async insert(submit: PendingSubmit, c: ConflictDetected, committed: TextOp): Promise<string> {
    const base = await this.reader.textAt(submit.sessionId, submit.docId, c.base_version);
    const rows = await readOps(this.db, submit.sessionId, submit.docId, c.base_version, c.version - 1, c.version - 1 - c.base_version);
    if (rows.length !== c.version - 1 - c.base_version) throw new Error(`ops after ${c.base_version} are no longer retained`);
    const region = conflictRegion(base.content, submit.op, rows.map((r) => r.op), committed);
    const inserted = rowsOf<{ id: string }>(
      await this.db.query(
        `INSERT INTO conflict_resolutions (session_id, doc_id, version, base_version, peer_id, user_id, peers, region_start, region_end, merged_text, mine_text, theirs_text, op, overlapped_versions)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13::jsonb, $14::jsonb)
         ON CONFLICT (session_id, doc_id, version) DO UPDATE SET peer_id = conflict_resolutions.peer_id
         RETURNING id`,
        [
          submit.sessionId,
          submit.docId,
          c.version,
          c.base_version,
          c.peer_id,
          c.user_id,
          JSON.stringify(c.peers),
          region.start,
          region.end,
          region.merged,
          region.mine,
          region.theirs,
          JSON.stringify(submit.op),
          JSON.stringify(c.overlaps.map((o) => o.version)),
        ],
      ),
    );
    return inserted[0].id;
  }

  async get(caller: Caller, sessionId: string, conflictId: string): Promise<ConflictView> {
    authorize(caller.role, 'document.read');
    const row = await this.find(sessionId, conflictId);
    if (!row) throw new ChorusError('NOT_FOUND', `Conflict ${conflictId} does not exist in this session.`);
    return toView(row);
  }

  async list(caller: Caller, sessionId: string, query: ConflictsQuery): Promise<ConflictList> {
    authorize(caller.role, 'document.read');
    const rows = rowsOf<ConflictRow>(
      await this.db.query(
        `SELECT * FROM conflict_resolutions WHERE session_id = $1 AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR doc_id = $3)
         ORDER BY created_at, version LIMIT $4`,
        [sessionId, query.state ?? null, query.doc_id ?? null, query.limit],
      ),
    );
    return { conflicts: rows.map(toView) };
  }

  /**
   * Claims the conflict (open → resolved, conditionally: one resolver wins a race), then commits the op. If the
   * commit is refused (a lock, a compacted version) the claim is undone and the error returned. The same resolver
   * asking again with the same choice gets the same resolution (the op dedupes on its per-conflict client id).
   */
  async resolve(caller: Caller, sessionId: string, conflictId: string, strategy: ConflictStrategy, text: string | undefined): Promise<ConflictResolution> {
    authorize(caller.role, 'conflict.resolve');
    const row = await this.find(sessionId, conflictId);
    if (!row) throw new ChorusError('NOT_FOUND', `Conflict ${conflictId} does not exist in this session.`);
    const chosen = strategy === 'keep_mine' ? row.mine_text : strategy === 'keep_theirs' ? row.theirs_text : text;
    if (chosen === undefined) throw ChorusError.validation('text', 'text is required with strategy "merged".');
    const claimed = rowsOf<ConflictRow>(
      await this.db.query(
        `UPDATE conflict_resolutions SET state = 'resolved', strategy = $3, resolved_text = $4, resolved_by = $5, resolved_at = now()
         WHERE session_id = $1 AND id = $2 AND state = 'open' RETURNING *`,
        [sessionId, conflictId, strategy, chosen, caller.user_id],
      ),
    )[0];
    const retry = !claimed && row.state === 'resolved' && row.resolved_by === caller.user_id && row.strategy === strategy && row.resolved_text === chosen;
    if (!claimed && !retry) {
      const current = await this.find(sessionId, conflictId);
      throw new ChorusError('CONFLICT', `Conflict ${conflictId} is already resolved (by ${current?.resolved_by ?? 'someone'}, ${current?.strategy ?? 'unknown'}).`);
    }
    const op = replaceOp(row.region_start, row.region_end, chosen);
    const shape = validateOpShape(op, this.options.limits);
    if (!shape.ok) {
      await this.unclaim(sessionId, conflictId, caller.user_id);
      throw ChorusError.validation('text', `The resolution does not make a valid op: ${shape.error.message}`);
    }
    let result: SubmitResult;
    try {
      result = await this.commit({ caller: { ...caller, client_id: resolutionClientId(conflictId) }, sessionId, docId: row.doc_id, version: Number(row.version), seq: 1, op: shape.op });
    } catch (err) {
      if (claimed) await this.unclaim(sessionId, conflictId, caller.user_id);
      throw err;
    }
    const done = rowsOf<{ resolved_at: Date }>(
      await this.db.query(`UPDATE conflict_resolutions SET resolved_version = $3 WHERE session_id = $1 AND id = $2 RETURNING resolved_at`, [sessionId, conflictId, result.ack.version]),
    )[0];
    if (claimed) this.counts.resolved++;
    return {
      conflict_id: conflictId,
      doc_id: row.doc_id,
      strategy,
      text: chosen,
      resolved_by: caller.user_id,
      resolved_at: new Date(done?.resolved_at ?? Date.now()).getTime(),
      broadcast: result.broadcast,
      duplicate: !claimed,
    };
  }

  /** Conflicts recorded, failed to record, and resolved on this replica. */
  counters(): { recorded: number; recordFailures: number; resolved: number } {
    return { ...this.counts };
  }

  private async unclaim(sessionId: string, conflictId: string, userId: string): Promise<void> {
    await this.db.query(
      `UPDATE conflict_resolutions SET state = 'open', strategy = NULL, resolved_text = NULL, resolved_by = NULL, resolved_at = NULL
       WHERE session_id = $1 AND id = $2 AND resolved_by = $3 AND resolved_version IS NULL`,
      [sessionId, conflictId, userId],
    );
  }

  private async find(sessionId: string, conflictId: string): Promise<ConflictRow | undefined> {
    return rowsOf<ConflictRow>(await this.db.query(`SELECT * FROM conflict_resolutions WHERE session_id = $1 AND id = $2`, [sessionId, conflictId]))[0];
  }
}

function toView(r: ConflictRow): ConflictView {
  return conflictViewSchema.parse({
    conflict_id: r.id,
    session_id: r.session_id,
    doc_id: r.doc_id,
    version: Number(r.version),
    base_version: Number(r.base_version),
    peer_id: r.peer_id,
    user_id: r.user_id,
    peers: r.peers,
    region_start: r.region_start,
    region_end: r.region_end,
    merged_text: r.merged_text,
    mine_text: r.mine_text,
    theirs_text: r.theirs_text,
    op: r.op,
    overlapped_versions: r.overlapped_versions,
    state: r.state,
    created_at: new Date(r.created_at).toISOString(),
    resolution:
      r.state === 'resolved' && r.strategy !== null && r.resolved_text !== null && r.resolved_by !== null && r.resolved_at !== null
        ? { strategy: r.strategy, text: r.resolved_text, resolved_by: r.resolved_by, resolved_at: new Date(r.resolved_at).toISOString(), version: r.resolved_version === null ? Number(r.version) : Number(r.resolved_version) }
        : null,
  });
}
