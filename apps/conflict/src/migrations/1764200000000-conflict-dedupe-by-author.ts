import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The op dedupe identity includes the author: UNIQUE (session_id, doc_id, user_id, client_id, seq). Keyed by
 * (client_id, seq) alone, a second user submitting under the same client id (peer id) got the first user's
 * ack for the same seq, and the first user's op was dropped as a "resend" of it. The session service now
 * refuses a peer id another user holds; the key makes that take-over harmless even if it were not.
 *
 * The new key is added before the old one is dropped, so no moment lacks one. Every existing row satisfies it
 * (it is a superset of the old key). The release before this one keeps working during a rolling update: its
 * dedupe reads (by client_id and seq) are a subset of what the new key allows, and its commits stay unique.
 */
export class ConflictDedupeByAuthor1764200000000 implements MigrationInterface {
  name = 'ConflictDedupeByAuthor1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE doc_ops ADD CONSTRAINT doc_ops_author_client_seq_key UNIQUE (session_id, doc_id, user_id, client_id, seq)`);
    await q.query(`ALTER TABLE doc_ops DROP CONSTRAINT doc_ops_client_seq_key`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Refuses (unique violation) if two users committed under one (client_id, seq): that history cannot be
    // expressed under the old key.
    await q.query(`ALTER TABLE doc_ops ADD CONSTRAINT doc_ops_client_seq_key UNIQUE (session_id, doc_id, client_id, seq)`);
    await q.query(`ALTER TABLE doc_ops DROP CONSTRAINT doc_ops_author_client_seq_key`);
  }
}
