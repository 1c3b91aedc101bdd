import { rowsOf } from '@chorus/database';
import { ChorusError, type CreateTemplateBody } from '@chorus/protocol';
import type { Executor, InviteRow, SessionRow } from './session.repository';

// SQL of session management: updates, invite listing, discovery, the per-user caps and templates.

const SESSION_COLUMNS = `s.id, s.name, s.owner_id, s.project_path, s.settings, s.is_public, s.password_hash, s.max_participants,
  s.last_seq, s.created_at, s.updated_at, s.expires_at,
  (SELECT count(*) FROM participants p WHERE p.session_id = s.id) AS participant_count`;
const LIVE = `s.deleted_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now())`;

/** The columns a PATCH may set (values already validated and hashed). */
export interface SessionPatch {
  name?: string;
  project_path?: string | null;
  settings?: Record<string, unknown>;
  is_public?: boolean;
  password_hash?: string | null;
  expires_at?: Date | null;
  max_participants?: number;
}

export interface TemplateRow {
  id: string;
  owner_id: string;
  name: string;
  description: string | null;
  body: CreateTemplateBody;
  created_at: Date;
  updated_at: Date;
}

export const sessionAdminRepo = {
  /** Applies `patch` to a live session (the caller holds its row lock). */
  async update(db: Executor, id: string, patch: SessionPatch): Promise<void> {
    const columns = Object.keys(patch) as Array<keyof SessionPatch>;
    if (columns.length === 0) return;
    const sets = columns.map((c, i) => `${c} = $${i + 2}${c === 'settings' ? '::jsonb' : ''}`);
    const values = columns.map((c) => (c === 'settings' ? JSON.stringify(patch[c]) : patch[c]));
    await db.query(`UPDATE sessions SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 AND deleted_at IS NULL`, [id, ...values]);
  },

  async listInvites(db: Executor, sessionId: string): Promise<Array<InviteRow & { created_at: Date; for_user_id: string | null }>> {
    return rowsOf(await db.query(`SELECT * FROM invites WHERE session_id = $1 ORDER BY created_at DESC, id LIMIT 500`, [sessionId]));
  },

  /**
   * Live public sessions, newest first, keyset-paged by (created_at, id) strictly after the cursor; `q` matches
   * the name case-insensitively anywhere (LIKE metacharacters escaped).
   */
  async discover(db: Executor, userId: string, q: string | undefined, after: { created_at: string; id: string } | undefined, limit: number): Promise<Array<SessionRow & { my_role: string | null; cursor_ts: string }>> {
    const pattern = q === undefined || q === '' ? null : `%${q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return rowsOf(
      await db.query(
        `SELECT ${SESSION_COLUMNS}, me.role AS my_role, s.created_at::text AS cursor_ts
         FROM sessions s LEFT JOIN participants me ON me.session_id = s.id AND me.user_id = $1
         WHERE s.is_public AND ${LIVE}
           AND ($2::text IS NULL OR lower(s.name) LIKE $2)
           AND ($3::timestamptz IS NULL OR (s.created_at, s.id) < ($3::timestamptz, $4::uuid))
         ORDER BY s.created_at DESC, s.id DESC LIMIT $5`,
        [userId, pattern, after?.created_at ?? null, after?.id ?? null, limit],
      ),
    );
  },

  /** For the caps: sessions the user created in the last 24 hours (deleted ones too), and those still open. */
  async ownerCounts(db: Executor, ownerId: string): Promise<{ today: number; open: number; oldest_today: Date | null }> {
    const [row] = rowsOf<{ today: string; open: string; oldest_today: Date | null }>(
      await db.query(
        `SELECT count(*) FILTER (WHERE s.created_at > now() - interval '1 day') AS today,
                count(*) FILTER (WHERE ${LIVE}) AS open,
                min(s.created_at) FILTER (WHERE s.created_at > now() - interval '1 day') AS oldest_today
         FROM sessions s WHERE s.owner_id = $1`,
        [ownerId],
      ),
    );
    return { today: Number(row.today), open: Number(row.open), oldest_today: row.oldest_today };
  },

  /** Serialises session creation per owner (transaction-scoped), so two racing creates cannot both pass a cap. */
  async lockOwner(db: Executor, ownerId: string): Promise<void> {
    await db.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 24149))`, [`session-owner:${ownerId}`]);
  },

  /** Inserts a template; with a `requestKey` already used (a redelivery), returns that request's template instead. */
  async insertTemplate(db: Executor, ownerId: string, body: CreateTemplateBody, requestKey: string | null = null): Promise<TemplateRow> {
    const inserted = rowsOf<TemplateRow>(
      await db.query(`INSERT INTO session_templates (owner_id, name, description, body, request_key) VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT (request_key) DO NOTHING RETURNING *`, [
        ownerId,
        body.name,
        body.description ?? null,
        JSON.stringify(body),
        requestKey,
      ]),
    )[0];
    // ON CONFLICT answered no row: the first delivery's commit is visible to this new statement.
    return inserted ?? rowsOf<TemplateRow>(await db.query(`SELECT * FROM session_templates WHERE request_key = $1`, [requestKey]))[0];
  },

  /** Whether the session stream already holds an event under `dedupeKey` (a redelivered request's). */
  async hasEvent(db: Executor, sessionId: string, dedupeKey: string): Promise<boolean> {
    return rowsOf(await db.query(`SELECT 1 FROM session_events WHERE session_id = $1 AND dedupe_key = $2`, [sessionId, dedupeKey])).length > 0;
  },

  async findTemplate(db: Executor, ownerId: string, id: string): Promise<TemplateRow | undefined> {
    return rowsOf<TemplateRow>(await db.query(`SELECT * FROM session_templates WHERE id = $1 AND owner_id = $2`, [id, ownerId]))[0];
  },

  async listTemplates(db: Executor, ownerId: string): Promise<TemplateRow[]> {
    return rowsOf(await db.query(`SELECT * FROM session_templates WHERE owner_id = $1 ORDER BY created_at, id LIMIT 500`, [ownerId]));
  },

  async replaceTemplate(db: Executor, ownerId: string, id: string, body: CreateTemplateBody): Promise<TemplateRow | undefined> {
    return rowsOf<TemplateRow>(
      await db.query(`UPDATE session_templates SET name = $3, description = $4, body = $5::jsonb, updated_at = now() WHERE id = $1 AND owner_id = $2 RETURNING *`, [
        id,
        ownerId,
        body.name,
        body.description ?? null,
        JSON.stringify(body),
      ]),
    )[0];
  },

  async deleteTemplate(db: Executor, ownerId: string, id: string): Promise<boolean> {
    return rowsOf(await db.query(`DELETE FROM session_templates WHERE id = $1 AND owner_id = $2 RETURNING id`, [id, ownerId])).length > 0;
  },
};

/** A template of the caller's (templates are private to their owner: another user's is NOT_FOUND). */
export async function mustFindTemplate(db: Executor, ownerId: string, id: string): Promise<TemplateRow> {
  const row = await sessionAdminRepo.findTemplate(db, ownerId, id);
  if (!row) throw templateNotFound(id);
  return row;
}

export function templateNotFound(id: string): ChorusError {
  return new ChorusError('NOT_FOUND', `You have no template ${id}.`, { field: 'template_id' });
}
