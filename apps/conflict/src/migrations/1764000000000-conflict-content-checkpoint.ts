import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `documents.content` becomes a checkpoint: the text at `content_version`, which is at most `snapshotEvery` − 1
 * versions behind the head (written with the snapshots, on compaction, and — in the 'every-commit' mode of the
 * upgrade release — on every commit). The head text is the checkpoint plus the ops (content_version, version],
 * which are always retained (CHECK below: min_version <= content_version). A commit then rewrites the small head
 * row only, not the whole text (docs/conflict.md, "Head text").
 *
 * Backward compatible with the release still running during a rolling update: existing rows get
 * content_version = version (their content IS the head). The previous release writes the head text on every
 * commit without knowing content_version; the trigger below keeps such a write consistent by moving
 * content_version to the new version. It fires only when `content` is a target of the UPDATE and the version
 * moves while content_version does not — which the current code never does: its commits leave `content` out of
 * the SET list unless they write a checkpoint, and then they move content_version too.
 */
export class ConflictContentCheckpoint1764000000000 implements MigrationInterface {
  name = 'ConflictContentCheckpoint1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE documents ADD COLUMN content_version bigint NOT NULL DEFAULT 0`);
    await q.query(`UPDATE documents SET content_version = version`);
    await q.query(`ALTER TABLE documents ADD CONSTRAINT documents_content_version_check CHECK (content_version >= min_version AND content_version <= version)`);
    await q.query(`
      CREATE FUNCTION documents_legacy_head_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        NEW.content_version := NEW.version;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER documents_legacy_head_write BEFORE UPDATE OF content ON documents FOR EACH ROW
      WHEN (NEW.version <> OLD.version AND NEW.content_version = OLD.content_version)
      EXECUTE FUNCTION documents_legacy_head_write()`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Going back needs every head text materialized first (content at version): the previous release reads
    // `content` as the head. Refuse rather than hand it stale text.
    const stale = (await q.query(`SELECT count(*)::int AS n FROM documents WHERE content_version <> version`)) as Array<{ n: number }>;
    if (stale[0].n > 0) throw new Error(`${stale[0].n} documents hold their head text as checkpoint + ops: materialize them before reverting this migration`);
    await q.query(`DROP TRIGGER documents_legacy_head_write ON documents`);
    await q.query(`DROP FUNCTION documents_legacy_head_write`);
    await q.query(`ALTER TABLE documents DROP CONSTRAINT documents_content_version_check`);
    await q.query(`ALTER TABLE documents DROP COLUMN content_version`);
  }
}
