// One session-service replica for the seq test: its own process, its own pool, its own group-commit log.
// Appends COUNT events to SESSION concurrently (in bursts), then prints the seqs it was given as JSON.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '@chorus/database';
import { SESSION_DATA_SOURCE } from '../persistence/session.data-source';
import { SessionEventLog } from '../events/event-log';

async function main(): Promise<void> {
  const [url, sessionId, countText, name] = process.argv.slice(2);
  const ds = new DataSource(dataSourceOptions(SESSION_DATA_SOURCE, url, 5));
  await ds.initialize();
  const log = new SessionEventLog(ds);
  process.stdout.write('ready\n');
  // Released by a line on stdin, so that all replicas start appending at the same moment.
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
  process.stdin.destroy();
  const count = Number(countText);
  const seqs = await Promise.all(
    Array.from({ length: count }, (_, i) => log.append(sessionId, { type: 'chat_message', actor: name, payload: { peer_id: name, user_id: name, display_name: name, message: String(i) } }).then((e) => e.seq)),
  );
  process.stdout.write(`${JSON.stringify({ worker: name, seqs })}\n`);
  await ds.destroy();
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
