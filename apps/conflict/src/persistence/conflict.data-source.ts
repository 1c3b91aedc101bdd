import type { AppDataSourceSpec } from '@chorus/database';
import { ConflictSchema1763856000000 } from '../migrations/1763856000000-conflict-schema';
import { ConflictContentCheckpoint1764000000000 } from '../migrations/1764000000000-conflict-content-checkpoint';
import { ConflictDedupeByAuthor1764200000000 } from '../migrations/1764200000000-conflict-dedupe-by-author';
import { ConflictYjs1764300000000 } from '../migrations/1764300000000-conflict-yjs';
import { ConflictResolutions1764400000000 } from '../migrations/1764400000000-conflict-resolutions';
import { ConflictYjsVersions1765800000000 } from '../migrations/1765800000000-conflict-yjs-versions';

/**
 * The conflict service's tables (documents, doc_ops, doc_snapshots, doc_locks): the single place that lists its
 * migrations. Queries are explicit SQL (persistence/doc.repository.ts): the hot path needs row locks, `unnest`
 * and data-modifying CTEs, so there are no entity classes.
 */
export const CONFLICT_DATA_SOURCE: AppDataSourceSpec = {
  app: 'conflict',
  entities: [],
  migrations: [ConflictSchema1763856000000, ConflictContentCheckpoint1764000000000, ConflictDedupeByAuthor1764200000000, ConflictYjs1764300000000, ConflictResolutions1764400000000, ConflictYjsVersions1765800000000],
};
