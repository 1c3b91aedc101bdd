import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs `work` while this process holds the Postgres session-level advisory lock `key`, or returns `null` at once
 * when another connection (another replica) holds it. The lock lives on one pooled connection for the whole of
 * `work` (not per transaction: no other replica slips in between two batches), and a replica that dies mid-way
 * closes that connection, so Postgres releases the lock with it: no lease to expire, no stale owner. `work` gets
 * that connection's manager; it may use the pool too.
 */
export async function underSessionLock<T>(db: DataSource, key: number, work: (manager: EntityManager) => Promise<T>): Promise<T | null> {
  const runner = db.createQueryRunner();
  await runner.connect();
  try {
    const [{ locked }] = (await runner.query(`SELECT pg_try_advisory_lock($1) AS locked`, [key])) as Array<{ locked: boolean }>;
    if (!locked) return null;
    try {
      return await work(runner.manager);
    } finally {
      await runner.query(`SELECT pg_advisory_unlock($1)`, [key]);
    }
  } finally {
    await runner.release();
  }
}
