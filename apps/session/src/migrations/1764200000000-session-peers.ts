import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Peer ownership: a peer id belongs to one user within a session, for the session's whole life. The first
 * `join` with a peer id claims it; later joins with it by the same user (reconnect, rejoin after a crash) are
 * accepted, by anyone else refused. Other services key per-peer state by the peer id (presence entries, the op
 * dedupe identity, the peer room of op acks): without this row a second user could take them over.
 *
 * Backfilled from the stream's `peer_joined` events: the first user who joined with a peer id owns it.
 * Rows go with their session (cascade: the janitor's purge removes them with the participants and events).
 */
export class SessionPeers1764200000000 implements MigrationInterface {
  name = 'SessionPeers1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE session_peers (
        session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        peer_id text NOT NULL,
        user_id text NOT NULL,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, peer_id)
      )`);
    await q.query(`
      INSERT INTO session_peers (session_id, peer_id, user_id, claimed_at)
      SELECT DISTINCT ON (session_id, payload->>'peer_id') session_id, payload->>'peer_id', payload->>'user_id', created_at
      FROM session_events
      WHERE type = 'peer_joined' AND payload->>'peer_id' IS NOT NULL AND payload->>'user_id' IS NOT NULL
      ORDER BY session_id, payload->>'peer_id', seq`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE session_peers`);
  }
}
