import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * The maximum connections the embedded server accepts. PGlite runs one query at a time anyway; pools larger
 * than this get connections dropped (see FIELD-NOTES), so every pool on it must stay within this total.
 */
export const EMBEDDED_MAX_CONNECTIONS = 8;

export interface EmbeddedPostgres {
  /** A normal postgres:// URL: the pg driver, TypeORM and migrations work unchanged. */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts Postgres in-process (PGlite, WebAssembly) behind a Postgres wire-protocol socket on loopback, with
 * its data under `dataDir`. For the one-process developer mode only: transactions are serialised, so it is
 * never used in production deployments.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const dir = resolve(dataDir, 'postgres');
  await mkdir(dir, { recursive: true });
  const db = await PGlite.create(dir);
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: EMBEDDED_MAX_CONNECTIONS });
  await server.start();
  return {
    url: `postgres://postgres@${server.getServerConn()}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
