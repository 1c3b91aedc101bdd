import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '@chorus/database';
import { createTestDatabase, type TestDatabase } from '@chorus/testing';
import { SESSION_DATA_SOURCE } from '../persistence/session.data-source';

/** A migrated database of the session service's own, for one test file. */
export async function migratedSessionDatabase(label: string): Promise<{ db: TestDatabase; ds: DataSource; close(): Promise<void> }> {
  const db = await createTestDatabase(label);
  await runMigrations(SESSION_DATA_SOURCE, db.url);
  const ds = new DataSource(dataSourceOptions(SESSION_DATA_SOURCE, db.url, 10));
  await ds.initialize();
  return {
    db,
    ds,
    async close() {
      await ds.destroy();
      await db.drop();
    },
  };
}
