import { runLoad, WriterBases, type BaseRule, type LoadResult } from './measure';

// The baseline: ShareDB 5 with sharedb-postgres 5 on its own fresh database of the same Postgres. Writers are
// `backend.connect()` connections; each submits through its connection's agent (`backend.submit(agent, …)`,
// ShareDB's server-side submit path: transform to head, conditional commit, retry), with the same op shape
// and base-version rule (WriterBases) as the Chorus writers. The document starts as "x": sharedb-postgres cannot hold ""
// (`row?.data || undefined`).

// sharedb ships no type declarations: the little used here is typed below.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ShareDB = require('sharedb') as { new (options: { db: unknown }): unknown; types: { register(type: unknown): void } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PostgresDB = require('sharedb-postgres') as new (options: { connectionString: string; max: number }) => unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const textUnicode = require('ot-text-unicode') as { type: { name: string; uri: string } };

export const SHAREDB_SCHEMA = `
CREATE TABLE ops (collection varchar(255) NOT NULL, doc_id varchar(255) NOT NULL, version integer NOT NULL, operation jsonb NOT NULL, PRIMARY KEY (collection, doc_id, version));
CREATE TABLE snapshots (collection varchar(255) NOT NULL, doc_id varchar(255) NOT NULL, doc_type varchar(255), version integer NOT NULL, data jsonb, metadata jsonb, PRIMARY KEY (collection, doc_id));
CREATE INDEX snapshots_version ON snapshots (collection, doc_id);`;

interface Agent {
  clientId: string;
}
interface SubmitOp {
  v: number;
  op: unknown[];
  src: string;
  seq: number;
}
interface Backend {
  connect(): { agent: Agent; get(c: string, id: string): { create(data: string, type: string, cb: (err?: Error) => void): void } };
  submit(agent: Agent, index: string, id: string, op: SubmitOp, options: object, cb: (err: Error | null, ops: unknown[], request: { retries: number }) => void): void;
  close(cb?: () => void): void;
}

export async function runShareDb(url: string, s: { writers: number; warmupMs: number; durationMs: number; bases?: BaseRule }): Promise<LoadResult & { retries: number; error_messages: string[] }> {
  ShareDB.types.register(textUnicode.type);
  const db = new PostgresDB({ connectionString: url, max: 30 });
  // backend.close() does not wait for the pool to end: idle clients still open when the benchmark drops the
  // database (DROP … WITH (FORCE)) would emit 'error' on the pool and crash the run.
  (db as unknown as { _pool: { on(event: 'error', listener: () => void): void } })._pool.on('error', () => undefined);
  const backend = new ShareDB({ db }) as Backend;
  const setup = backend.connect();
  await new Promise<void>((resolve, reject) => setup.get('docs', 'hot').create('x', textUnicode.type.uri, (err) => (err ? reject(err) : resolve())));
  let retries = 0;
  const errorMessages = new Set<string>();
  const writers = Array.from({ length: s.writers }, () => ({ agent: backend.connect().agent, seq: 0 }));
  // ShareDB's document is at version 1 after its create (Chorus's at 0).
  const bases = new WriterBases(s.bases ?? 'broadcast');
  const result = await runLoad({
    ...s,
    submit: (w) =>
      new Promise<void>((resolve, reject) => {
        const me = writers[w];
        const version = Math.max(1, bases.base(w, 'hot'));
        const length = 1 + 2 * (version - 1);
        const pos = Math.floor(Math.random() * (length + 1));
        const op: SubmitOp = { v: version, op: pos === 0 ? ['ab'] : [pos, 'ab'], src: me.agent.clientId, seq: ++me.seq };
        backend.submit(me.agent, 'docs', 'hot', op, {}, (err, _ops, request) => {
          if (err) {
            errorMessages.add(err.message);
            return reject(err);
          }
          retries += request.retries;
          bases.acked(w, 'hot', op.v + 1); // op.v is now the version it was committed at
          resolve();
        });
      }),
  });
  await new Promise<void>((resolve) => backend.close(() => resolve()));
  return { ...result, retries, error_messages: [...errorMessages] };
}
