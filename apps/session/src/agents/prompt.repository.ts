import { rowsOf } from '@chorus/database';
import type { Executor } from '../sessions/session.repository';

// Explicit SQL for agents and the prompt queue. Every mutating caller but the enqueue holds the session's queue
// lock (`queueRepo.bump`) for its transaction, so reads there see a queue no one else is changing — except for
// new prompts arriving at its tail (`enqueue` takes no part in that lock: see there).

export interface AgentRow {
  agent_id: string;
  session_id: string;
  name: string;
  capabilities: string[];
  created_by: string;
  created_at: Date;
  revoked_at: Date | null;
}

export interface PromptRow {
  id: string;
  session_id: string;
  author_id: string;
  author_name: string;
  agent_id: string | null;
  content: string;
  images: string[];
  priority: number;
  client_msg_id: string;
  rank: string;
  status: 'queued' | 'assigned' | 'done' | 'cancelled' | 'parked';
  attempts: number;
  assigned_to: string | null;
  lease_expires_at: Date | null;
  queued_at: Date;
}

/** The first key of the enqueue advisory locks (the second is the session id's hash): 'prom' in ASCII. */
const ENQUEUE_LOCK_SPACE = 0x70726f6d;

/** Queue order: priority (higher first), then rank (arrival, or where a reorder or a give-back put it). */
const ORDER = `priority DESC, rank ASC, id ASC`;

export const agentsRepo = {
  async insert(db: Executor, a: { agent_id: string; session_id: string; name: string; capabilities: string[]; created_by: string; request_key: string | null }): Promise<boolean> {
    const rows = rowsOf(
      await db.query(
        `INSERT INTO agents (agent_id, session_id, name, capabilities, created_by, request_key) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING agent_id`,
        [a.agent_id, a.session_id, a.name, JSON.stringify(a.capabilities), a.created_by, a.request_key],
      ),
    );
    return rows.length > 0;
  },

  async find(db: Executor, sessionId: string, agentId: string): Promise<AgentRow | undefined> {
    return rowsOf<AgentRow>(await db.query(`SELECT * FROM agents WHERE session_id = $1 AND agent_id = $2`, [sessionId, agentId]))[0];
  },

  async list(db: Executor, sessionId: string): Promise<AgentRow[]> {
    return rowsOf<AgentRow>(await db.query(`SELECT * FROM agents WHERE session_id = $1 ORDER BY created_at, agent_id`, [sessionId]));
  },

  async revoke(db: Executor, sessionId: string, agentId: string): Promise<boolean> {
    return rowsOf(await db.query(`UPDATE agents SET revoked_at = now() WHERE session_id = $1 AND agent_id = $2 AND revoked_at IS NULL RETURNING agent_id`, [sessionId, agentId])).length > 0;
  },

  /** Live agents of the session without an assigned prompt (for `agent_busy` of the shared queue). */
  async idleCount(db: Executor, sessionId: string): Promise<number> {
    const rows = rowsOf<{ n: string }>(
      await db.query(
        `SELECT count(*) AS n FROM agents a WHERE a.session_id = $1 AND a.revoked_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM prompts p WHERE p.session_id = a.session_id AND p.assigned_to = a.agent_id AND p.status = 'assigned')`,
        [sessionId],
      ),
    );
    return Number(rows[0].n);
  },
};

export const queueRepo = {
  /** Whether the session is live (not deleted, not expired): a queue change of a dead session is NOT_FOUND. */
  async live(db: Executor, sessionId: string): Promise<boolean> {
    const rows = rowsOf(await db.query(`SELECT 1 FROM sessions WHERE id = $1 AND deleted_at IS NULL AND (expires_at IS NULL OR expires_at > now())`, [sessionId]));
    return rows.length > 0;
  },

  /**
   * Takes the session's queue lock for the transaction and returns the new revision. Every queue change on
   * every replica starts here, so they happen one at a time per session, each with a higher revision.
   */
  async bump(db: Executor, sessionId: string): Promise<number> {
    const rows = rowsOf<{ revision: string }>(
      await db.query(
        `INSERT INTO prompt_queues (session_id, revision) VALUES ($1, 1)
         ON CONFLICT (session_id) DO UPDATE SET revision = prompt_queues.revision + 1 RETURNING revision`,
        [sessionId],
      ),
    );
    return Number(rows[0].revision);
  },

  async revision(db: Executor, sessionId: string): Promise<number> {
    const rows = rowsOf<{ revision: string }>(await db.query(`SELECT revision FROM prompt_queues WHERE session_id = $1`, [sessionId]));
    return rows.length > 0 ? Number(rows[0].revision) : 0;
  },
};

export const promptsRepo = {
  /** Inserts a prompt, or nothing when this author's `client_msg_id` is already stored (a resend). */
  async insert(
    db: Executor,
    p: { session_id: string; author_id: string; author_name: string; agent_id: string | null; content: string; images: string[]; priority: number; client_msg_id: string },
  ): Promise<PromptRow | undefined> {
    return rowsOf<PromptRow>(
      await db.query(
        `INSERT INTO prompts (session_id, author_id, author_name, agent_id, content, images, priority, client_msg_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (session_id, author_id, client_msg_id) DO NOTHING RETURNING *`,
        [p.session_id, p.author_id, p.author_name, p.agent_id, p.content, JSON.stringify(p.images), p.priority, p.client_msg_id],
      ),
    )[0];
  },

  /**
   * The enqueue, in ONE autocommit statement (no transaction held across round trips): takes the session's
   * enqueue lock (a transaction-scoped advisory lock, held only while Postgres runs this statement and commits
   * it), then draws the rank and inserts. Ranks are therefore drawn in commit order per session: once this
   * returns, every prompt with a smaller rank has committed, so a position counted afterwards is final for
   * arrivals (only a higher priority, a reorder or a give-back can still move the prompt). Nothing when this
   * author's `client_msg_id` is already stored (a resend or a redelivery).
   *
   * Not the `prompt_queues` row lock: queue changes (claim, done, cancel) hold that across a transaction, and
   * a submit must not wait for them.
   */
  async enqueue(
    db: Executor,
    p: { session_id: string; author_id: string; author_name: string; agent_id: string | null; content: string; images: string[]; priority: number; client_msg_id: string },
  ): Promise<PromptRow | undefined> {
    return rowsOf<PromptRow>(
      await db.query(
        `WITH lock AS (SELECT pg_advisory_xact_lock(${ENQUEUE_LOCK_SPACE}, hashtext($1::uuid::text)))
         INSERT INTO prompts (session_id, author_id, author_name, agent_id, content, images, priority, client_msg_id, rank)
         SELECT $1::uuid, $2::text, $3::text, $4::text, $5::text, $6::jsonb, $7::int, $8::text, nextval('prompt_rank_seq') FROM lock
         ON CONFLICT (session_id, author_id, client_msg_id) DO NOTHING RETURNING *`,
        [p.session_id, p.author_id, p.author_name, p.agent_id, p.content, JSON.stringify(p.images), p.priority, p.client_msg_id],
      ),
    )[0];
  },

  /**
   * An author's prompt by its client key with its 1-based position (0 unless queued) and whether its queue's
   * agent is busy (a named agent holding a prompt; for the shared queue: no live agent is idle) — one statement,
   * one snapshot.
   */
  async submitted(db: Executor, sessionId: string, authorId: string, clientMsgId: string): Promise<(PromptRow & { position: number; busy: boolean }) | undefined> {
    const rows = rowsOf<PromptRow & { position: string; busy: boolean }>(
      await db.query(
        `SELECT p.*,
           CASE WHEN p.status <> 'queued' THEN 0 ELSE 1 + (SELECT count(*) FROM prompts q
             WHERE q.session_id = p.session_id AND q.status = 'queued' AND q.agent_id IS NOT DISTINCT FROM p.agent_id
               AND (q.priority > p.priority OR (q.priority = p.priority AND (q.rank < p.rank OR (q.rank = p.rank AND q.id < p.id))))) END AS position,
           CASE WHEN p.agent_id IS NOT NULL
             THEN EXISTS (SELECT 1 FROM prompts b WHERE b.session_id = p.session_id AND b.assigned_to = p.agent_id AND b.status = 'assigned')
             ELSE NOT EXISTS (SELECT 1 FROM agents a WHERE a.session_id = p.session_id AND a.revoked_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM prompts b WHERE b.session_id = a.session_id AND b.assigned_to = a.agent_id AND b.status = 'assigned')) END AS busy
         FROM prompts p WHERE p.session_id = $1 AND p.author_id = $2 AND p.client_msg_id = $3`,
        [sessionId, authorId, clientMsgId],
      ),
    );
    const r = rows[0];
    return r === undefined ? undefined : { ...r, position: Number(r.position) };
  },

  async findByClientKey(db: Executor, sessionId: string, authorId: string, clientMsgId: string): Promise<PromptRow | undefined> {
    return rowsOf<PromptRow>(await db.query(`SELECT * FROM prompts WHERE session_id = $1 AND author_id = $2 AND client_msg_id = $3`, [sessionId, authorId, clientMsgId]))[0];
  },

  async find(db: Executor, sessionId: string, id: string): Promise<PromptRow | undefined> {
    return rowsOf<PromptRow>(await db.query(`SELECT * FROM prompts WHERE session_id = $1 AND id = $2`, [sessionId, id]))[0];
  },

  /**
   * One queue as everyone sees it, in one statement (one snapshot): the session's queue revision, the queue's
   * length and its first `limit` prompts in order.
   */
  async view(db: Executor, sessionId: string, agentId: string | null, limit: number): Promise<{ revision: number; length: number; items: Array<{ id: string; author_id: string; priority: number }> }> {
    const rows = rowsOf<{ revision: string | null; length: string; items: Array<{ id: string; author_id: string; priority: number }> | null }>(
      await db.query(
        `SELECT (SELECT revision FROM prompt_queues WHERE session_id = $1) AS revision,
                (SELECT count(*) FROM prompts WHERE session_id = $1 AND status = 'queued' AND agent_id IS NOT DISTINCT FROM $2) AS length,
                (SELECT json_agg(h ORDER BY h.n) FROM (
                   SELECT id, author_id, priority, row_number() OVER (ORDER BY ${ORDER}) AS n FROM prompts
                   WHERE session_id = $1 AND status = 'queued' AND agent_id IS NOT DISTINCT FROM $2 ORDER BY ${ORDER} LIMIT $3) h) AS items`,
        [sessionId, agentId, limit],
      ),
    );
    const r = rows[0];
    return { revision: Number(r.revision ?? 0), length: Number(r.length), items: r.items ?? [] };
  },

  /** The head of one queue in order (at most `limit`): the prompts for `agentId` (null: the shared queue). */
  async queued(db: Executor, sessionId: string, agentId: string | null, limit: number): Promise<PromptRow[]> {
    return rowsOf<PromptRow>(
      await db.query(`SELECT * FROM prompts WHERE session_id = $1 AND status = 'queued' AND agent_id IS NOT DISTINCT FROM $2 ORDER BY ${ORDER} LIMIT $3`, [sessionId, agentId, limit]),
    );
  },

  async queueLength(db: Executor, sessionId: string, agentId: string | null): Promise<number> {
    const rows = rowsOf<{ n: string }>(await db.query(`SELECT count(*) AS n FROM prompts WHERE session_id = $1 AND status = 'queued' AND agent_id IS NOT DISTINCT FROM $2`, [sessionId, agentId]));
    return Number(rows[0].n);
  },

  /** A queued prompt's 1-based position in its queue (0 when it is not queued). */
  async position(db: Executor, p: PromptRow): Promise<number> {
    if (p.status !== 'queued') return 0;
    const rows = rowsOf<{ n: string }>(
      await db.query(
        `SELECT count(*) AS n FROM prompts WHERE session_id = $1 AND status = 'queued' AND agent_id IS NOT DISTINCT FROM $2
           AND (priority > $3 OR (priority = $3 AND (rank < $4 OR (rank = $4 AND id < $5))))`,
        [p.session_id, p.agent_id, p.priority, p.rank, p.id],
      ),
    );
    return Number(rows[0].n) + 1;
  },

  /** The target queues that hold anything queued (plus the shared one), for a full snapshot. */
  async queueTargets(db: Executor, sessionId: string): Promise<Array<string | null>> {
    const rows = rowsOf<{ agent_id: string | null }>(await db.query(`SELECT DISTINCT agent_id FROM prompts WHERE session_id = $1 AND status = 'queued'`, [sessionId]));
    const targets = new Set<string | null>([null, ...rows.map((r) => r.agent_id)]);
    return [...targets];
  },

  /** The next prompt for an agent: its own queue and the shared one, in queue order. */
  async head(db: Executor, sessionId: string, agentId: string): Promise<PromptRow | undefined> {
    return rowsOf<PromptRow>(
      await db.query(`SELECT * FROM prompts WHERE session_id = $1 AND status = 'queued' AND (agent_id = $2 OR agent_id IS NULL) ORDER BY ${ORDER} LIMIT 1`, [sessionId, agentId]),
    )[0];
  },

  async assignedTo(db: Executor, sessionId: string, agentId: string, onlyExpired = false): Promise<PromptRow[]> {
    return rowsOf<PromptRow>(
      await db.query(
        `SELECT * FROM prompts WHERE session_id = $1 AND assigned_to = $2 AND status = 'assigned'${onlyExpired ? ' AND lease_expires_at < now()' : ''} ORDER BY ${ORDER}`,
        [sessionId, agentId],
      ),
    );
  },

  async assign(db: Executor, id: string, agentId: string, leaseMs: number): Promise<PromptRow> {
    return rowsOf<PromptRow>(
      await db.query(
        `UPDATE prompts SET status = 'assigned', assigned_to = $2, attempts = attempts + 1, lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
         WHERE id = $1 RETURNING *`,
        [id, agentId, leaseMs],
      ),
    )[0];
  },

  async renew(db: Executor, sessionId: string, agentId: string, leaseMs: number): Promise<number> {
    return rowsOf(
      await db.query(
        `UPDATE prompts SET lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
         WHERE session_id = $1 AND assigned_to = $2 AND status = 'assigned' RETURNING id`,
        [sessionId, agentId, leaseMs],
      ),
    ).length;
  },

  /** Done, if still assigned to `agentId`: a lapsed lease (the prompt went back, maybe to another agent) answers false. */
  async complete(db: Executor, sessionId: string, id: string, agentId: string): Promise<boolean> {
    return (
      rowsOf(
        await db.query(`UPDATE prompts SET status = 'done', completed_at = now(), lease_expires_at = NULL WHERE session_id = $1 AND id = $2 AND status = 'assigned' AND assigned_to = $3 RETURNING id`, [
          sessionId,
          id,
          agentId,
        ]),
      ).length > 0
    );
  },

  async cancel(db: Executor, sessionId: string, id: string): Promise<boolean> {
    return rowsOf(await db.query(`UPDATE prompts SET status = 'cancelled', completed_at = now() WHERE session_id = $1 AND id = $2 AND status = 'queued' RETURNING id`, [sessionId, id])).length > 0;
  },

  /** Back to the head of its queue (below the smallest rank there), or parked. */
  async giveBack(db: Executor, p: PromptRow, parked: boolean): Promise<void> {
    await db.query(
      `UPDATE prompts SET status = $2, assigned_to = NULL, lease_expires_at = NULL,
         rank = COALESCE((SELECT min(q.rank) FROM prompts q WHERE q.session_id = $3 AND q.status = 'queued' AND q.agent_id IS NOT DISTINCT FROM $4), rank) - 1
       WHERE id = $1`,
      [p.id, parked ? 'parked' : 'queued', p.session_id, p.agent_id],
    );
  },

  async setOrder(db: Executor, id: string, priority: number, rank: string): Promise<void> {
    await db.query(`UPDATE prompts SET priority = $2, rank = $3 WHERE id = $1`, [id, priority, rank]);
  },

  /** (session, agent) pairs with a lapsed lease, for the sweep (any replica; the release re-checks under the lock). */
  async expired(db: Executor, limit: number): Promise<Array<{ session_id: string; assigned_to: string }>> {
    return rowsOf(await db.query(`SELECT DISTINCT session_id, assigned_to FROM prompts WHERE status = 'assigned' AND lease_expires_at < now() LIMIT $1`, [limit]));
  },
};
