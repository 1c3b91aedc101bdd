import type { DataSource, EntityManager } from 'typeorm';
import { rowsOf } from '@chorus/database';
import type { ParticipantKind, Role } from '@chorus/protocol';

// Explicit SQL for the session service's tables. Every method takes the executor (DataSource or a
// transaction's EntityManager) so the service decides transaction boundaries.

export type Executor = DataSource | EntityManager;

export interface SessionRow {
  id: string;
  name: string;
  owner_id: string;
  project_path: string | null;
  settings: Record<string, unknown>;
  is_public: boolean;
  password_hash: string | null;
  max_participants: number;
  last_seq: string;
  created_at: Date;
  updated_at: Date;
  expires_at: Date | null;
  participant_count: string;
}

export interface ParticipantRow {
  session_id: string;
  user_id: string;
  display_name: string;
  kind: ParticipantKind;
  role: Role;
  joined_at: Date;
  last_active_at: Date;
}

export interface InviteRow {
  id: string;
  session_id: string;
  code: string;
  role: Role;
  created_by: string;
  /** Null: a permanent invite. */
  expires_at: Date | null;
  max_uses: number | null;
  uses: number;
  password_hash: string | null;
  revoked_at: Date | null;
  request_key: string | null;
  /** An addressed invite's only redeemer, or null. */
  for_user_id: string | null;
}

const SESSION_COLUMNS = `s.id, s.name, s.owner_id, s.project_path, s.settings, s.is_public, s.password_hash, s.max_participants,
  s.last_seq, s.created_at, s.updated_at, s.expires_at,
  (SELECT count(*) FROM participants p WHERE p.session_id = s.id) AS participant_count`;
const LIVE = `s.deleted_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now())`;


export const sessionsRepo = {
  async insert(
    db: Executor,
    s: { name: string; owner_id: string; project_path: string | null; settings: Record<string, unknown>; is_public: boolean; password_hash: string | null; max_participants: number; expires_at: Date | null },
  ): Promise<string> {
    const rows = rowsOf<{ id: string }>(
      await db.query(
        `INSERT INTO sessions (name, owner_id, project_path, settings, is_public, password_hash, max_participants, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
        [s.name, s.owner_id, s.project_path, JSON.stringify(s.settings), s.is_public, s.password_hash, s.max_participants, s.expires_at],
      ),
    );
    return rows[0].id;
  },

  async find(db: Executor, id: string, lock = false): Promise<SessionRow | undefined> {
    const rows = rowsOf<SessionRow>(await db.query(`SELECT ${SESSION_COLUMNS} FROM sessions s WHERE s.id = $1 AND ${LIVE}${lock ? ' FOR UPDATE OF s' : ''}`, [id]));
    return rows[0];
  },

  /** The caller's sessions plus public ones (discovery), newest first. */
  async listVisible(db: Executor, userId: string, limit: number): Promise<Array<SessionRow & { my_role: Role | null }>> {
    return rowsOf(
      await db.query(
        `SELECT ${SESSION_COLUMNS}, me.role AS my_role
         FROM sessions s LEFT JOIN participants me ON me.session_id = s.id AND me.user_id = $1
         WHERE ${LIVE} AND (me.user_id IS NOT NULL OR s.is_public)
         ORDER BY s.created_at DESC LIMIT $2`,
        [userId, limit],
      ),
    );
  },

  async softDelete(db: Executor, id: string): Promise<boolean> {
    const deleted = rowsOf(await db.query(`UPDATE sessions SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id`, [id])).length > 0;
    // A deleted session keeps no file content: its file sync cache goes now, not with the row (docs/file-sync.md).
    if (deleted) await db.query(`DELETE FROM file_blobs WHERE session_id = $1`, [id]);
    return deleted;
  },

  /**
   * Of `ids`, those that are deleted or whose row is gone (removed by the janitor, or never existed). An expired
   * session still present is not gone: its row, and so its documents, stay until the janitor removes it.
   */
  async gone(db: Executor, ids: readonly string[]): Promise<string[]> {
    const present = new Set(rowsOf<{ id: string }>(await db.query(`SELECT id FROM sessions WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, [ids])).map((r) => r.id));
    return ids.filter((id) => !present.has(id));
  },

  /** Sessions past their expiry or deleted more than `graceSeconds` ago; removed for good (cascade). */
  async purge(db: Executor, graceSeconds: number, limit: number): Promise<number> {
    return rowsOf(
      await db.query(
        `DELETE FROM sessions WHERE id IN (
           SELECT id FROM sessions
           WHERE (expires_at IS NOT NULL AND expires_at < now() - make_interval(secs => $1))
              OR (deleted_at IS NOT NULL AND deleted_at < now() - make_interval(secs => $1))
           LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        [graceSeconds, limit],
      ),
    ).length;
  },
};

export const participantsRepo = {
  async find(db: Executor, sessionId: string, userId: string): Promise<ParticipantRow | undefined> {
    return rowsOf<ParticipantRow>(await db.query(`SELECT * FROM participants WHERE session_id = $1 AND user_id = $2`, [sessionId, userId]))[0];
  },

  async list(db: Executor, sessionId: string): Promise<ParticipantRow[]> {
    return rowsOf(await db.query(`SELECT * FROM participants WHERE session_id = $1 ORDER BY joined_at, user_id`, [sessionId]));
  },

  async upsert(db: Executor, p: { session_id: string; user_id: string; display_name: string; kind: ParticipantKind; role: Role }): Promise<void> {
    await db.query(
      `INSERT INTO participants (session_id, user_id, display_name, kind, role) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (session_id, user_id) DO UPDATE SET role = EXCLUDED.role, display_name = EXCLUDED.display_name, last_active_at = now()`,
      [p.session_id, p.user_id, p.display_name, p.kind, p.role],
    );
  },

  async setRole(db: Executor, sessionId: string, userId: string, role: Role): Promise<boolean> {
    return rowsOf(await db.query(`UPDATE participants SET role = $3 WHERE session_id = $1 AND user_id = $2 RETURNING user_id`, [sessionId, userId, role])).length > 0;
  },

  async remove(db: Executor, sessionId: string, userId: string): Promise<boolean> {
    return rowsOf(await db.query(`DELETE FROM participants WHERE session_id = $1 AND user_id = $2 RETURNING user_id`, [sessionId, userId])).length > 0;
  },

  async touch(db: Executor, sessionId: string, userId: string): Promise<void> {
    await db.query(`UPDATE participants SET last_active_at = now() WHERE session_id = $1 AND user_id = $2`, [sessionId, userId]);
  },
};

export const invitesRepo = {
  async insert(
    db: Executor,
    i: {
      session_id: string;
      code: string;
      token_hash: string;
      role: Role;
      created_by: string;
      expires_at: Date | null;
      max_uses: number | null;
      password_hash: string | null;
      request_key: string | null;
      for_user_id: string | null;
    },
  ): Promise<string | undefined> {
    // A code collision (1 in ~887 million per live code) answers no row; the caller draws another code. So
    // does an invite of the same request_key (a redelivery): a concurrent one waits for the first's commit,
    // then does nothing, and the caller finds it with `findByRequestKey` (a new statement sees the commit).
    const rows = rowsOf<{ id: string }>(
      await db.query(
        `INSERT INTO invites (session_id, code, token_hash, role, created_by, expires_at, max_uses, password_hash, request_key, for_user_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING id`,
        [i.session_id, i.code, i.token_hash, i.role, i.created_by, i.expires_at, i.max_uses, i.password_hash, i.request_key, i.for_user_id],
      ),
    );
    return rows[0]?.id;
  },

  async findByRequestKey(db: Executor, requestKey: string): Promise<InviteRow | undefined> {
    return rowsOf<InviteRow>(await db.query(`SELECT * FROM invites WHERE request_key = $1`, [requestKey]))[0];
  },

  async findByCodeOrTokenHash(db: Executor, code: string, tokenHash: string): Promise<InviteRow | undefined> {
    return rowsOf<InviteRow>(await db.query(`SELECT * FROM invites WHERE code = $1 OR token_hash = $2 LIMIT 1`, [code, tokenHash]))[0];
  },

  /** Counts one use, atomically refusing past max_uses even when redemptions race. */
  async consumeUse(db: Executor, id: string): Promise<boolean> {
    return (
      rowsOf(
        await db.query(
          `UPDATE invites SET uses = uses + 1
           WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AND (max_uses IS NULL OR uses < max_uses) RETURNING id`,
          [id],
        ),
      ).length > 0
    );
  },

  async revoke(db: Executor, sessionId: string, inviteId: string): Promise<boolean> {
    return rowsOf(await db.query(`UPDATE invites SET revoked_at = now() WHERE id = $1 AND session_id = $2 AND revoked_at IS NULL RETURNING id`, [inviteId, sessionId])).length > 0;
  },

  async purge(db: Executor, graceSeconds: number, limit: number): Promise<number> {
    return rowsOf(
      await db.query(
        `DELETE FROM invites WHERE id IN (
           SELECT id FROM invites WHERE expires_at < now() - make_interval(secs => $1) OR revoked_at < now() - make_interval(secs => $1)
           LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id`,
        [graceSeconds, limit],
      ),
    ).length;
  },
};

export const peersRepo = {
  /**
   * Claims `peerId` in the session for `userId`, or finds who holds it: returns the owner's user id after the
   * call (the caller's own id when the claim is new or the caller already held it). Atomic across replicas:
   * two users racing for one peer id both reach the INSERT, the second waits on the first's uncommitted row,
   * then DO NOTHING — and its SELECT, a new statement (READ COMMITTED: a new snapshot), sees the winner. The
   * SELECT cannot be folded into the INSERT's statement: that one's snapshot predates the winner's commit.
   */
  async claim(db: Executor, sessionId: string, peerId: string, userId: string): Promise<string | undefined> {
    const inserted = rowsOf<{ user_id: string }>(
      await db.query(`INSERT INTO session_peers (session_id, peer_id, user_id) VALUES ($1, $2, $3) ON CONFLICT (session_id, peer_id) DO NOTHING RETURNING user_id`, [sessionId, peerId, userId]),
    );
    if (inserted.length > 0) return inserted[0].user_id;
    return rowsOf<{ user_id: string }>(await db.query(`SELECT user_id FROM session_peers WHERE session_id = $1 AND peer_id = $2`, [sessionId, peerId]))[0]?.user_id;
  },
};
