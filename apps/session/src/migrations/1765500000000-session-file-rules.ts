import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-file permissions (docs/files.md): one row per session holding its ordered path rules as they were set
 * (a whole list replaces the previous one; `version` counts the changes and is the `file_rules_updated` event's).
 * Deleted with its session.
 */
export class SessionFileRules1765500000000 implements MigrationInterface {
  name = 'SessionFileRules1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE session_file_rules (
        session_id uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
        rules jsonb NOT NULL,
        version integer NOT NULL,
        updated_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE session_file_rules`);
  }
}
