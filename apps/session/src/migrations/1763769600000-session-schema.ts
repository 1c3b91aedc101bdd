import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Sessions, participants, invites and the session event stream (audit history + replayable stream). */
export class SessionSchema1763769600000 implements MigrationInterface {
  name = 'SessionSchema1763769600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sessions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        owner_id text NOT NULL,
        project_path text,
        settings jsonb NOT NULL DEFAULT '{}'::jsonb,
        is_public boolean NOT NULL DEFAULT false,
        password_hash text,
        max_participants integer NOT NULL DEFAULT 50 CHECK (max_participants > 0),
        -- The head of the session stream: the seq of the last appended event. Appends lock this row, so seqs are
        -- gap-free and unique however many session replicas append at once.
        last_seq bigint NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz,
        deleted_at timestamptz
      )`);
    await q.query(`CREATE INDEX sessions_owner_idx ON sessions (owner_id) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX sessions_public_idx ON sessions (created_at DESC) WHERE is_public AND deleted_at IS NULL`);
    await q.query(`CREATE INDEX sessions_expiry_idx ON sessions (expires_at) WHERE expires_at IS NOT NULL`);
    await q.query(`
      CREATE TABLE participants (
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        user_id text NOT NULL,
        display_name text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('human', 'agent')),
        role text NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer', 'agent')),
        joined_at timestamptz NOT NULL DEFAULT now(),
        last_active_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, user_id)
      )`);
    await q.query(`CREATE INDEX participants_user_idx ON participants (user_id)`);
    await q.query(`
      CREATE TABLE invites (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        code text NOT NULL UNIQUE,
        token_hash text NOT NULL UNIQUE,
        role text NOT NULL CHECK (role IN ('admin', 'editor', 'viewer', 'agent')),
        created_by text NOT NULL,
        expires_at timestamptz NOT NULL,
        max_uses integer CHECK (max_uses IS NULL OR max_uses > 0),
        uses integer NOT NULL DEFAULT 0,
        password_hash text,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX invites_session_idx ON invites (session_id)`);
    await q.query(`CREATE INDEX invites_expiry_idx ON invites (expires_at)`);
    await q.query(`
      CREATE TABLE session_events (
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq bigint NOT NULL,
        type text NOT NULL,
        actor text NOT NULL,
        payload jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, seq)
      )`);
    // Audit rows are append-only: an UPDATE is refused by the database itself, whoever issues it.
    await q.query(`
      CREATE FUNCTION session_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'session_events is append-only';
      END $$`);
    await q.query(`CREATE TRIGGER session_events_no_update BEFORE UPDATE ON session_events FOR EACH ROW EXECUTE FUNCTION session_events_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE session_events`);
    await q.query(`DROP FUNCTION session_events_append_only`);
    await q.query(`DROP TABLE invites`);
    await q.query(`DROP TABLE participants`);
    await q.query(`DROP TABLE sessions`);
  }
}
