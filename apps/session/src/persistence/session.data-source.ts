import type { AppDataSourceSpec } from '@chorus/database';

/** The session service's tables: the single place that lists its entities and migrations. */
export const SESSION_DATA_SOURCE: AppDataSourceSpec = {
  app: 'session',
  entities: [],
  migrations: [],
};
