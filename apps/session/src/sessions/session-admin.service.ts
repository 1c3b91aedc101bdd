import type { DataSource } from 'typeorm';
import {
  ChorusError,
  type AuditQuery,
  type CreateTemplateBody,
  type DiscoverPage,
  type DiscoverQuery,
  type InviteView,
  type SessionEventView,
  type SessionView,
  type TemplateView,
  type UpdateSessionBody,
  type UpdateTemplateBody,
} from '@chorus/protocol';
import { authorize, hashPassword, type Identity } from '@chorus/auth';
import { rowsOf } from '@chorus/database';
import type { AuditRecord } from '@chorus/contracts';
import { dedupeKeys, type NewSessionEvent, type SessionEventLog, type StoredSessionEvent } from '../events/event-log';
import type { SessionEventPublisher } from '../events/event-publisher';
import type { AuditTrail } from './audit-trail';
import { mustFindTemplate, sessionAdminRepo, templateNotFound, type SessionPatch, type TemplateRow } from './session-admin.repository';
import { participantsRepo, sessionsRepo, type Executor } from './session.repository';
import { eventView, sessionView } from './session.views';
import { notFound, outOfScope } from './session.service';

/** Events per audit page over the transport (the gateway pages through them into one JSONL response). */
export const AUDIT_PAGE = 2_000;

/**
 * Session management beyond create/delete: PATCH, invite listing, public discovery, the audit export and
 * per-user templates. Every change is authorized by the policy and appended to the session stream in the same
 * transaction (`session_updated`), published after the commit; refusals are recorded by the AuditTrail.
 */
export class SessionAdminService {
  constructor(
    private readonly db: DataSource,
    private readonly events: SessionEventLog,
    private readonly publisher: SessionEventPublisher,
    private readonly audit: AuditTrail,
  ) {}

  /**
   * Idempotent per transport request (`requestId`): a redelivery whose first delivery committed finds its
   * `session_updated` (by dedupe key, under the session row lock) and changes nothing again — no second event,
   * no expiry moved by the redelivery's later clock.
   */
  async update(actor: Identity, sessionId: string, body: UpdateSessionBody, requestId?: string): Promise<SessionView> {
    const passwordHash = body.password === undefined ? undefined : body.password === null ? null : await hashPassword(body.password);
    return this.audit.refusing(actor, sessionId, 'session.update', async () => {
      let appended: StoredSessionEvent[] = [];
      const role = await this.db.transaction(async (tx) => {
        outOfScope(actor, sessionId);
        const session = await sessionsRepo.find(tx, sessionId, true);
        const me = await participantsRepo.find(tx, sessionId, actor.user_id);
        if (!session || (!me && !session.is_public)) throw notFound(sessionId);
        authorize(me?.role, 'session.update');
        const dedupeKey = requestId === undefined ? undefined : dedupeKeys.request(requestId);
        if (dedupeKey !== undefined && (await sessionAdminRepo.hasEvent(tx, sessionId, dedupeKey))) return (me as { role: SessionView['my_role'] }).role;
        const patch: SessionPatch = {};
        const changes: Record<string, unknown> = {};
        if (body.name !== undefined && body.name !== session.name) changes.name = patch.name = body.name;
        if (body.project_path !== undefined && body.project_path !== session.project_path) changes.project_path = patch.project_path = body.project_path;
        if (body.settings !== undefined && JSON.stringify(body.settings) !== JSON.stringify(session.settings)) changes.settings = patch.settings = body.settings;
        if (body.is_public !== undefined && body.is_public !== session.is_public) changes.is_public = patch.is_public = body.is_public;
        if (passwordHash !== undefined && !(passwordHash === null && session.password_hash === null)) {
          patch.password_hash = passwordHash;
          changes.has_password = passwordHash !== null;
        }
        if (body.expires_in_s !== undefined) {
          patch.expires_at = body.expires_in_s === null ? null : new Date(Date.now() + body.expires_in_s * 1000);
          changes.expires_at = patch.expires_at?.toISOString() ?? null;
        }
        if (body.max_participants !== undefined && body.max_participants !== session.max_participants) {
          if (body.max_participants < Number(session.participant_count)) {
            throw ChorusError.validation('max_participants', `The session has ${session.participant_count} participants; max_participants cannot go below that.`);
          }
          changes.max_participants = patch.max_participants = body.max_participants;
        }
        // Nothing changed (the same values again): no event, the session as it is.
        if (Object.keys(changes).length === 0) return (me as { role: SessionView['my_role'] }).role;
        await sessionAdminRepo.update(tx, sessionId, patch);
        appended = await this.events.appendInTransaction(tx, sessionId, [{ type: 'session_updated', actor: actor.user_id, payload: { changes }, ...(dedupeKey !== undefined ? { dedupe_key: dedupeKey } : {}) }]);
        return (me as { role: SessionView['my_role'] }).role;
      });
      await this.publisher.publish(appended);
      const row = await sessionsRepo.find(this.db, sessionId);
      if (!row) throw notFound(sessionId);
      return sessionView(row, role);
    });
  }

  async listInvites(actor: Identity, sessionId: string): Promise<InviteView[]> {
    return this.audit.refusing(actor, sessionId, 'invite.list', async () => {
      await this.authorizedLive(this.db, actor, sessionId, 'invite.create');
      return (await sessionAdminRepo.listInvites(this.db, sessionId)).map((i) => ({
        invite_id: i.id,
        code: i.code,
        role: i.role,
        created_by: i.created_by,
        user_id: i.for_user_id,
        expires_at: i.expires_at?.toISOString() ?? null,
        max_uses: i.max_uses,
        uses: i.uses,
        has_password: i.password_hash !== null,
        revoked_at: i.revoked_at?.toISOString() ?? null,
        created_at: i.created_at.toISOString(),
      }));
    });
  }

  /** Public sessions, newest first, paged by an opaque cursor, optionally searched by name. */
  async discover(actor: Identity, query: DiscoverQuery): Promise<DiscoverPage> {
    if (actor.session_scope !== undefined) return { sessions: [], next_cursor: null };
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const rows = await sessionAdminRepo.discover(this.db, actor.user_id, query.q, after, query.limit + 1);
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      sessions: page.map((r) => sessionView(r, r.my_role as SessionView['my_role'])),
      next_cursor: rows.length > query.limit && last !== undefined ? encodeCursor(last.cursor_ts, last.id) : null,
    };
  }

  /**
   * One page of the audit trail: every session event after `after_seq`. Owners and admins only — also of a
   * deleted session, whose events stay for the audit retention period (the janitor purges them after that).
   */
  async auditPage(actor: Identity, sessionId: string, query: AuditQuery): Promise<{ events: SessionEventView[]; next_after_seq: number | null }> {
    outOfScope(actor, sessionId);
    const [session] = rowsOf<{ deleted: boolean }>(await this.db.query(`SELECT deleted_at IS NOT NULL AS deleted FROM sessions WHERE id = $1`, [sessionId]));
    const me = session === undefined ? undefined : await participantsRepo.find(this.db, sessionId, actor.user_id);
    if (session === undefined || me === undefined) throw notFound(sessionId);
    if (!session.deleted) await this.audit.refusing(actor, sessionId, 'audit.read', async () => authorize(me.role, 'audit.read'));
    else authorize(me.role, 'audit.read');
    const events = await this.events.read(sessionId, query.after_seq, AUDIT_PAGE);
    const last = events[events.length - 1];
    return { events: events.map(eventView), next_after_seq: events.length === AUDIT_PAGE && last !== undefined ? last.seq : null };
  }

  /** An audit event reported by a gateway (a refused socket action, a lock change): trusted caller, no actor check. */
  async record(sessionId: string, record: AuditRecord, requestId?: string): Promise<{ recorded: true }> {
    const dedupe = requestId === undefined ? {} : { dedupe_key: `audit:${requestId}` };
    let event: NewSessionEvent;
    switch (record.kind) {
      case 'refused':
        event = {
          type: 'access_refused',
          actor: record.user_id,
          payload: { user_id: record.user_id, action: record.action, code: record.code, reason: record.reason.slice(0, 1_000), ...(record.resource !== undefined ? { resource: record.resource } : {}) },
          ...dedupe,
        };
        break;
      case 'lock_acquired':
        event = { type: 'file_lock_acquired', actor: record.holder_id, payload: { doc_id: record.doc_id, holder_id: record.holder_id, peer_id: record.peer_id, expires_at: record.expires_at }, ...dedupe };
        break;
      case 'lock_released':
        event = { type: 'file_lock_released', actor: record.by, payload: { doc_id: record.doc_id, holder_id: record.holder_id, by: record.by, reason: record.reason }, ...dedupe };
        break;
      case 'yjs_document_created':
        event = { type: 'yjs_document_created', actor: record.user_id, payload: { doc_id: record.doc_id, user_id: record.user_id }, ...dedupe };
        break;
      case 'yjs_version_restored':
        event = { type: 'yjs_version_restored', actor: record.user_id, payload: { doc_id: record.doc_id, version: record.version, seq: record.seq, user_id: record.user_id }, ...dedupe };
        break;
      case 'yjs_version_saved':
        event = { type: 'yjs_version_saved', actor: record.user_id, payload: { doc_id: record.doc_id, version: record.version, label: record.label, seq: record.seq, user_id: record.user_id }, ...dedupe };
        break;
    }
    await this.audit.record(sessionId, event);
    return { recorded: true };
  }

  // ---- templates (per user) ----

  /** Idempotent per transport request: a redelivery answers the template its first delivery created. */
  async createTemplate(actor: Identity, body: CreateTemplateBody, requestId?: string): Promise<TemplateView> {
    noAgentCredential(actor);
    return templateView(await sessionAdminRepo.insertTemplate(this.db, actor.user_id, body, requestId === undefined ? null : `template:${requestId}`));
  }

  async listTemplates(actor: Identity): Promise<TemplateView[]> {
    noAgentCredential(actor);
    return (await sessionAdminRepo.listTemplates(this.db, actor.user_id)).map(templateView);
  }

  async getTemplate(actor: Identity, id: string): Promise<TemplateView> {
    noAgentCredential(actor);
    return templateView(await mustFindTemplate(this.db, actor.user_id, id));
  }

  async updateTemplate(actor: Identity, id: string, body: UpdateTemplateBody): Promise<TemplateView> {
    noAgentCredential(actor);
    return this.db.transaction(async (tx) => {
      const current = await mustFindTemplate(tx, actor.user_id, id);
      const merged = { ...current.body, ...body } as CreateTemplateBody;
      const updated = await sessionAdminRepo.replaceTemplate(tx, actor.user_id, id, merged);
      if (!updated) throw templateNotFound(id);
      return templateView(updated);
    });
  }

  async deleteTemplate(actor: Identity, id: string): Promise<{ deleted: true }> {
    noAgentCredential(actor);
    if (!(await sessionAdminRepo.deleteTemplate(this.db, actor.user_id, id))) throw templateNotFound(id);
    return { deleted: true };
  }

  private async authorizedLive(db: Executor, actor: Identity, sessionId: string, action: Parameters<typeof authorize>[1]): Promise<void> {
    outOfScope(actor, sessionId);
    const session = await sessionsRepo.find(db, sessionId);
    const me = await participantsRepo.find(db, sessionId, actor.user_id);
    if (!session || (!me && !session.is_public)) throw notFound(sessionId);
    authorize(me?.role, action);
  }
}


function noAgentCredential(actor: Identity): void {
  if (actor.session_scope !== undefined) throw new ChorusError('PERMISSION_DENIED', 'An agent credential acts in its own session only; it has no templates.');
}

export function templateView(row: TemplateRow): TemplateView {
  const b = row.body;
  return {
    template_id: row.id,
    owner_id: row.owner_id,
    name: row.name,
    description: row.description,
    project_path: b.project_path ?? null,
    settings: b.settings ?? {},
    is_public: b.is_public ?? false,
    max_participants: b.max_participants ?? null,
    default_roles: b.default_roles ?? [],
    channels: b.channels ?? [],
    file_permissions: b.file_permissions ?? [],
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/**
 * The cursor is the last row's (created_at, id), the time as Postgres prints it (microseconds: a JS Date would
 * round them off and skip rows created within the same millisecond). Opaque to clients (base64url JSON).
 */
function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id])).toString('base64url');
}
const PG_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

function decodeCursor(cursor: string): { created_at: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && PG_TIMESTAMP.test(createdAt) && typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id)) return { created_at: createdAt, id };
  } catch {
    // fall through: a cursor we did not issue
  }
  throw ChorusError.validation('cursor', 'Not a cursor this server issued: pass next_cursor from the previous page.');
}
