import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Chat edits and deletions are events of their own (`message_update`, `message_delete`, payload `message_seq`):
 * the stream stays append-only. Authorizing an edit and folding history both look up the events about given
 * messages; this partial index keeps that a lookup instead of a scan of the session's stream (it holds only
 * those two event types).
 */
export class ChatEdits1765000000000 implements MigrationInterface {
  name = 'ChatEdits1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX session_events_message_seq_idx ON session_events (session_id, ((payload->>'message_seq')::bigint), seq)
       WHERE type IN ('message_update', 'message_delete')`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX session_events_message_seq_idx`);
  }
}
