import type { DataSource, EntityManager } from 'typeorm';
import { authorize, normalizeFileRules, type Identity } from '@chorus/auth';
import { rowsOf } from '@chorus/database';
import { fileRulesBodySchema, fileRulesViewSchema, type FileRulesView, type StoredFileRule } from '@chorus/protocol';
import { ChorusError } from '@chorus/protocol';
import type { SessionEventLog, StoredSessionEvent } from '../events/event-log';
import type { SessionEventPublisher } from '../events/event-publisher';
import { participantsRepo, sessionsRepo, type Executor } from '../sessions/session.repository';
import { notFound, outOfScope } from '../sessions/session.service';

interface RulesRow {
  rules: StoredFileRule[];
  version: number;
  updated_at: Date | string;
}

/**
 * A session's per-file path rules (docs/files.md). Set by an owner or admin (`file_rules.manage`): the whole list
 * is replaced and a durable `file_rules_updated` event appended in the same transaction, so every gateway with
 * members of the session drops its cached copy when the event reaches it. Read by every participant.
 */
export class FileRulesService {
  constructor(
    private readonly db: DataSource,
    private readonly events: SessionEventLog,
    private readonly publisher: SessionEventPublisher,
  ) {}

  /** The rules as stored (an empty list, version 0, when none were ever set). Participants only. */
  async get(actor: Identity, sessionId: string): Promise<FileRulesView> {
    await this.roleOf(this.db, actor, sessionId);
    return this.read(this.db, sessionId);
  }

  /** The rules for a trusted caller (a gateway enforcing them on a live connection): no actor check. */
  async forEnforcement(sessionId: string): Promise<FileRulesView> {
    return this.read(this.db, sessionId);
  }

  async set(actor: Identity, sessionId: string, body: unknown): Promise<FileRulesView> {
    const parsed = fileRulesBodySchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw ChorusError.validation(issue.path.join('.') || 'rules', `rules: ${issue.message}`);
    }
    const rules = normalizeFileRules(parsed.data.rules);
    let appended: StoredSessionEvent[] = [];
    const view = await this.db.transaction(async (tx) => {
      // The session row lock (the one appends take) orders concurrent replacements: versions never collide.
      const role = await this.roleOf(tx, actor, sessionId, true);
      authorize(role, 'file_rules.manage');
      const before = await this.read(tx, sessionId);
      const version = before.version + 1;
      await tx.query(
        `INSERT INTO session_file_rules (session_id, rules, version, updated_by) VALUES ($1, $2::jsonb, $3, $4)
         ON CONFLICT (session_id) DO UPDATE SET rules = EXCLUDED.rules, version = EXCLUDED.version, updated_by = EXCLUDED.updated_by, updated_at = now()`,
        [sessionId, JSON.stringify(rules), version, actor.user_id],
      );
      appended = await this.events.appendInTransaction(tx, sessionId, [{ type: 'file_rules_updated', actor: actor.user_id, payload: { version, rules } }]);
      return this.read(tx, sessionId);
    });
    await this.publisher.publish(appended);
    return view;
  }

  /**
   * The audit of a conflict resolution (`conflict_resolved`), appended once per conflict however often a gateway
   * retries it (dedupe key `conflict:<id>`). Trusted caller: the gateway, after the conflict service applied it.
   */
  async auditConflict(input: { session_id: string; user_id: string; conflict_id: string; doc_id: string; strategy: 'keep_mine' | 'keep_theirs' | 'merged'; version: number }): Promise<{ seq: number }> {
    const { session_id, user_id, ...rest } = input;
    const appended = await this.events.appendOnce(session_id, { type: 'conflict_resolved', actor: user_id, payload: { user_id, ...rest }, dedupe_key: `conflict:${rest.conflict_id}` });
    // Published again on a replay too: gateways drop a seq they delivered, and it repairs a publish lost in a crash.
    await this.publisher.publish([appended.event]);
    return { seq: appended.event.seq };
  }

  private async read(db: Executor, sessionId: string): Promise<FileRulesView> {
    const row = rowsOf<RulesRow>(await db.query(`SELECT rules, version, updated_at FROM session_file_rules WHERE session_id = $1`, [sessionId]))[0];
    if (!row) return { session_id: sessionId, rules: [], version: 0, updated_at: null };
    // Parsed on the way out: a row written by an older version must still be a valid view (or fail loudly here).
    return fileRulesViewSchema.parse({ session_id: sessionId, rules: row.rules, version: row.version, updated_at: new Date(row.updated_at).toISOString() });
  }

  private async roleOf(db: Executor | EntityManager, actor: Identity, sessionId: string, lock = false) {
    outOfScope(actor, sessionId);
    const session = await sessionsRepo.find(db, sessionId, lock);
    const me = await participantsRepo.find(db, sessionId, actor.user_id);
    if (!session || !me) throw notFound(sessionId);
    authorize(me.role, 'document.read');
    return me.role;
  }
}
