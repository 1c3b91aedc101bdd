import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Agents and the durable prompt queue (docs/agents.md).
 *
 * - `agents`: one row per agent credential. The agent is also a `participants` row (role `agent`, kind
 *   `agent`) under its own user id, which exists in this session only; revoking deletes that row, so every
 *   membership check refuses the credential at once.
 * - `prompt_queues`: one row per session whose `revision` every queue change bumps. That UPDATE takes the row
 *   lock: all changes to a session's queues, on any replica, are made one after another, so positions are
 *   decided in one place, and clients keep the `queue_updated` with the highest revision.
 * - `prompts`: the queue. Order: `priority` (higher first), then `rank` (arrival; a reorder rewrites it, a
 *   prompt given back goes below the smallest rank). `(session_id, author_id, client_msg_id)` is unique: a
 *   resend finds its prompt.
 */
export class AgentsPromptQueue1765100000000 implements MigrationInterface {
  name = 'AgentsPromptQueue1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE agents (
        agent_id text PRIMARY KEY,
        session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        name text NOT NULL,
        capabilities jsonb NOT NULL DEFAULT '[]'::jsonb,
        created_by text NOT NULL,
        request_key text UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX agents_session_idx ON agents (session_id)`);
    await q.query(`CREATE TABLE prompt_queues (session_id uuid PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE, revision bigint NOT NULL DEFAULT 0)`);
    await q.query(`CREATE SEQUENCE prompt_rank_seq`);
    await q.query(`
      CREATE TABLE prompts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        author_id text NOT NULL,
        author_name text NOT NULL,
        agent_id text,
        content text NOT NULL,
        images jsonb NOT NULL DEFAULT '[]'::jsonb,
        priority integer NOT NULL DEFAULT 0,
        client_msg_id text NOT NULL,
        rank bigint NOT NULL DEFAULT nextval('prompt_rank_seq'),
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'assigned', 'done', 'cancelled', 'parked')),
        attempts integer NOT NULL DEFAULT 0,
        assigned_to text,
        lease_expires_at timestamptz,
        queued_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        UNIQUE (session_id, author_id, client_msg_id)
      )`);
    await q.query(`CREATE INDEX prompts_queued_idx ON prompts (session_id, priority DESC, rank) WHERE status = 'queued'`);
    await q.query(`CREATE INDEX prompts_assigned_idx ON prompts (lease_expires_at) WHERE status = 'assigned'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE prompts`);
    await q.query(`DROP SEQUENCE prompt_rank_seq`);
    await q.query(`DROP TABLE prompt_queues`);
    await q.query(`DROP TABLE agents`);
  }
}
