import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the agents' activity feed needs besides the session stream (docs/agents.md, "History and activity"):
 *
 * - `agent_edit_runs`: per agent of a session and document, its current run of OT edits (versions from..to, its
 *   op count, the versions themselves). A run ends when the agent does anything else that goes to the feed, or
 *   pauses on that document for AGENT_ACTIVITY_COALESCE_MS (every replica sweeps): then it becomes one durable
 *   `document_edited` event in the same transaction as `closed = true`, so it is recorded once. The closed row
 *   stays until the agent's next edit of the document (or for ten minutes), so a redelivered report of an op
 *   already recorded is recognised.
 * - `agent_statuses`: per agent, the last status recorded as an `agent_status_changed` event, and the newest
 *   one reported inside the coalescing interval (`pending_*`, recorded at `due_at` unless it went back), so only
 *   transitions are stored and at most one per interval.
 */
export class AgentActivity1765700000000 implements MigrationInterface {
  name = 'AgentActivity1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE agent_edit_runs (
        session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        agent_id text NOT NULL,
        doc_id text NOT NULL,
        from_version bigint NOT NULL CHECK (from_version > 0),
        to_version bigint NOT NULL CHECK (to_version >= from_version),
        ops integer NOT NULL CHECK (ops > 0),
        -- The versions of the run's ops (a run lasts at most a minute): a redelivered report is found here, and
        -- reports arriving out of order (two connections of one agent) are each counted once.
        versions bigint[] NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        last_at timestamptz NOT NULL DEFAULT now(),
        closed boolean NOT NULL DEFAULT false,
        PRIMARY KEY (session_id, agent_id, doc_id)
      )`);
    await q.query(`CREATE INDEX agent_edit_runs_open_idx ON agent_edit_runs (last_at) WHERE NOT closed`);
    await q.query(`CREATE INDEX agent_edit_runs_closed_idx ON agent_edit_runs (last_at) WHERE closed`);
    await q.query(`
      CREATE TABLE agent_statuses (
        session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        agent_id text NOT NULL,
        status text NOT NULL,
        detail text,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        pending_status text,
        pending_detail text,
        due_at timestamptz,
        PRIMARY KEY (session_id, agent_id)
      )`);
    await q.query(`CREATE INDEX agent_statuses_due_idx ON agent_statuses (due_at) WHERE due_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE agent_statuses`);
    await q.query(`DROP TABLE agent_edit_runs`);
  }
}
