import type { AppDataSourceSpec } from '@chorus/database';

/** The conflict service's tables (documents, ops, snapshots): the single place that lists its entities and migrations. */
export const CONFLICT_DATA_SOURCE: AppDataSourceSpec = {
  app: 'conflict',
  entities: [],
  migrations: [],
};
