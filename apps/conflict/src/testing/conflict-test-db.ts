import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '@chorus/database';
import { createTestDatabase } from '@chorus/testing';
import { CONFLICT_DATA_SOURCE } from '../persistence/conflict.data-source';

export interface ConflictTestDatabase {
  readonly url: string;
  /** A new, initialized DataSource (its own pool): one per simulated replica. Destroyed by `close()`. */
  dataSource(poolMax?: number): Promise<DataSource>;
  /** Destroys every DataSource opened here, then drops the database. */
  close(): Promise<void>;
}

/** A fresh database with the conflict migrations applied, for one test file (or one benchmark run). */
export async function createConflictTestDatabase(label: string): Promise<ConflictTestDatabase> {
  const db = await createTestDatabase(label);
  await runMigrations(CONFLICT_DATA_SOURCE, db.url);
  const opened: DataSource[] = [];
  return {
    url: db.url,
    async dataSource(poolMax = 10) {
      const ds = new DataSource(dataSourceOptions(CONFLICT_DATA_SOURCE, db.url, poolMax));
      await ds.initialize();
      opened.push(ds);
      return ds;
    },
    async close() {
      await Promise.all(opened.map((ds) => (ds.isInitialized ? ds.destroy().catch(() => undefined) : undefined)));
      await db.drop();
    },
  };
}
