import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ChorusClient, FileSyncGuest, FileSyncHost, syncDiff } from '@chorus/client';
import { buildManifest, diskSource, writeFiles } from '../src';

// chorus-sync host|pull: share a directory as a session's file host, or pull the host's files into one.
//   npx chorus-sync host --url http://localhost:3000 --token $TOKEN --session $SESSION [--dir .]
//   npx chorus-sync pull --url http://localhost:3000 --token $TOKEN --session $SESSION [--dir .] [--format compact|seed] [--host PEER]
// (`npx chorus-sync` runs the launcher chorus-sync.js next to this file; `npm run chorus-sync -- …` too.)
// Pull downloads what the diff says is added or changed (sha256-verified), writes it, and lists what the host
// does not have (it deletes nothing). Progress goes to stderr; a one-line summary to stdout.

const USAGE = 'usage: chorus-sync host|pull --url URL [--token TOKEN] --session ID [--dir DIR] [--peer ID] [--format compact|seed] [--host PEER]';
const HELP = `${USAGE}

  host   share DIR as the session's file host (until Ctrl-C)
  pull   download what DIR lacks or has changed from the session's file host (sha256-verified; deletes nothing)

  --url URL        a gateway, e.g. http://localhost:3000
  --token TOKEN    an access token (Authorization: Bearer); never logged. Default: $CHORUS_TOKEN (better:
                   a command line is visible to other users of the machine)
  --session ID     the session to join
  --dir DIR        the project directory (default: .)
  --peer ID        this connection's peer id (default: random)
  --format F       pull: compact (binary chunks, default) or seed (JSON chunks)
  --host PEER      pull: from this peer instead of the session's file host

Files the session's path rules hide from you are not offered: pull says how many were withheld by rules.`;

function bar(done: number, total: number): string {
  const width = 30;
  const share = total === 0 ? 1 : done / total;
  const filled = Math.round(share * width);
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${(done / 1024 / 1024).toFixed(1)}/${(total / 1024 / 1024).toFixed(1)} MB`;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, url: { type: 'string' }, token: { type: 'string' }, session: { type: 'string' }, dir: { type: 'string', default: '.' }, peer: { type: 'string' }, format: { type: 'string', default: 'compact' }, host: { type: 'string' } },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const mode = positionals[0];
  // eslint-disable-next-line no-restricted-properties -- a CLI, not a service (no @chorus/config): its one variable is the token, kept off the command line
  const token = values.token ?? process.env.CHORUS_TOKEN;
  if ((mode !== 'host' && mode !== 'pull') || !values.url || !token || !values.session || (values.format !== 'compact' && values.format !== 'seed')) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const dir = resolve(values.dir);
  const client = new ChorusClient({ url: values.url, token, ...(values.peer ? { peerId: values.peer } : {}) });
  await client.connect();
  const session = client.session(values.session);
  await session.join();
  if (mode === 'host') {
    const manifest = await buildManifest(dir);
    const host = new FileSyncHost(session, diskSource(dir, manifest));
    host.on('error', (e) => process.stderr.write(`chorus-sync: ${e.code}: ${e.message}\n`));
    host.on('sent', (s) => process.stderr.write(`sent ${s.chunks} chunk(s) to ${s.to}\n`));
    await host.share();
    process.stdout.write(`hosting ${manifest.files.length} files (${manifest.files.reduce((n, f) => n + f.size, 0)} bytes) of ${dir} as ${client.peerId}; Ctrl-C to stop\n`);
    await new Promise<void>((done) => process.once('SIGINT', done).once('SIGTERM', done));
    host.close();
    client.close();
    return 0;
  }
  const guest = new FileSyncGuest(session);
  const { manifest, hostPeerId, withheld } = await guest.fetchManifest(values.host ? { hostPeerId: values.host } : {});
  const diff = syncDiff((await buildManifest(dir)).files, manifest.files);
  const wanted = [...diff.add, ...diff.update];
  guest.on('progress', (p) => process.stderr.write(`\r${bar(p.bytes, p.totalBytes)} ${p.files}/${p.totalFiles} files`));
  const files = await guest.download(manifest, wanted, { format: values.format, hostPeerId });
  process.stderr.write('\n');
  await writeFiles(dir, files);
  process.stdout.write(`pulled ${files.size} file(s) from ${hostPeerId} (${diff.add.length} added, ${diff.update.length} changed, ${diff.unchanged.length} unchanged; not on the host: ${diff.delete.length}${withheld > 0 ? `; ${withheld} file(s) withheld by rules` : ''})\n`);
  client.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as { code?: string; message?: string; details?: { paths?: string[] } };
    process.stderr.write(`chorus-sync: ${e.code ?? 'error'}: ${e.message ?? String(err)}${e.details?.paths ? ` (${e.details.paths.join(', ')})` : ''}\n`);
    process.exit(1);
  },
);
