import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Session management (docs/session-admin.md).
 *
 * - `invites.for_user_id`: an addressed invite, redeemable by that principal only.
 * - `invites.expires_at` nullable: a permanent link (revocable) has no expiry.
 * - `sessions_public_keyset_idx`: public discovery in keyset order (created_at, id), so a page after a cursor is an
 *   index range scan at any depth. The name search (`lower(name) LIKE '%q%'`) filters along it: no trigram index
 *   (pg_trgm is not assumed to be installed).
 * - `sessions_owner_created_idx`: the per-user caps count a user's sessions by creation time.
 * - `session_templates`: per-user templates a session can be created from.
 */
export class SessionAdmin1765400000000 implements MigrationInterface {
  name = 'SessionAdmin1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE invites ADD COLUMN for_user_id text`);
    await q.query(`ALTER TABLE invites ALTER COLUMN expires_at DROP NOT NULL`);
    await q.query(`CREATE INDEX sessions_owner_created_idx ON sessions (owner_id, created_at)`);
    await q.query(`CREATE INDEX sessions_public_keyset_idx ON sessions (created_at DESC, id DESC) WHERE is_public AND deleted_at IS NULL`);
    await q.query(`
      CREATE TABLE session_templates (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        owner_id text NOT NULL,
        name text NOT NULL,
        description text,
        -- The template's fields as given (libs/protocol createTemplateBodySchema), checked on the way in.
        body jsonb NOT NULL,
        -- The transport request that created it: a redelivered template.create finds this row instead of adding one.
        request_key text UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX session_templates_owner_idx ON session_templates (owner_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE session_templates`);
    await q.query(`DROP INDEX sessions_public_keyset_idx`);
    await q.query(`DROP INDEX sessions_owner_created_idx`);
    await q.query(`DELETE FROM invites WHERE expires_at IS NULL`);
    await q.query(`ALTER TABLE invites ALTER COLUMN expires_at SET NOT NULL`);
    await q.query(`ALTER TABLE invites DROP COLUMN for_user_id`);
  }
}
