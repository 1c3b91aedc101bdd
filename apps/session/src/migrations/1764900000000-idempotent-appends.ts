import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Idempotent appends. Delivery is at-least-once (a stalled or dead replica's request runs again elsewhere) and
 * clients resend a chat message after UNAVAILABLE, so an append carries a key and the database refuses a
 * second event with the same key in a session:
 *
 * - `session_events.dedupe_key`: `chat:[user, client_msg_id]` for a keyed chat message, `req:<transport
 *   request id>` for other appends made on behalf of one transport request. NULL for everything else (the
 *   partial index costs nothing for them). The appender looks the key up under the session row lock, so the
 *   check and the insert are one step across replicas; the unique index is the backstop.
 * - `invites.request_key`: the transport request that created the invite. A redelivery finds the invite
 *   instead of creating a second one (its token is derived from the key, so the reply is the same).
 */
export class IdempotentAppends1764900000000 implements MigrationInterface {
  name = 'IdempotentAppends1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE session_events ADD COLUMN dedupe_key text`);
    await q.query(`CREATE UNIQUE INDEX session_events_dedupe_idx ON session_events (session_id, dedupe_key) WHERE dedupe_key IS NOT NULL`);
    await q.query(`ALTER TABLE invites ADD COLUMN request_key text`);
    await q.query(`CREATE UNIQUE INDEX invites_request_key_idx ON invites (request_key) WHERE request_key IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX invites_request_key_idx`);
    await q.query(`ALTER TABLE invites DROP COLUMN request_key`);
    await q.query(`DROP INDEX session_events_dedupe_idx`);
    await q.query(`ALTER TABLE session_events DROP COLUMN dedupe_key`);
  }
}
