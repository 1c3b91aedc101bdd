import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import { loadConfig } from '@chorus/config';
import { createTestDatabase, startCommand, startTsProcess, type RunningProcess, type TestDatabase } from '@chorus/testing';
import { startChorus, type RunningChorus } from '../../standalone/chorus';
import { CaptureLogger } from './support/capture-logger';
import { hashesOf, writeProject } from './support/file-project';
import { setUpSession } from './support/scenario';
import { Api, TEST_JWT_SECRET } from './support/stack';

// Issue 15: the `chorus-sync host|pull` CLI against one standalone node (no Redis: the in-process fan-out and
// file sync store). A host process shares a directory; a pull process brings another directory up to date — in
// the seed format, then again in the compact one, when there is nothing left to do. And as `npx chorus-sync` (the
// root package.json's bin), run from a folder of the repository: --help, and a real pull (a path rule withholds a
// file from the puller).

let node: RunningChorus;
let db: TestDatabase;
const dirs: string[] = [];
const processes: RunningProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase('file_sync_cli');
  const logs = new CaptureLogger();
  Logger.overrideLogger(logs);
  node = await startChorus(loadConfig('standalone', { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'warn', DEV_TOKENS: 'true' }), logs);
}, 60_000);
afterAll(async () => {
  for (const p of processes) await p.stop('SIGKILL');
  await node?.stop();
  await db?.drop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const temp = async (label: string) => {
  const d = await mkdtemp(join(tmpdir(), `chorus-cli-${label}-`));
  dirs.push(d);
  return d;
};

it('hosts a directory and pulls it into another, with a progress bar, then finds nothing to do', async () => {
  const url = `http://127.0.0.1:${node.port}`;
  const people = await setUpSession(url, 'cli');
  const source = await temp('host');
  const expected = await writeProject(source, { files: 40, bigBytes: 1024 * 1024, seed: 7 });
  const target = await temp('guest');
  await writeFile(join(target, 'only-here.txt'), 'local');
  const common = ['--url', url, '--session', people.sessionId];
  const host = startTsProcess('libs/client-node/bin/chorus-sync.ts', {}, ['host', ...common, '--token', people.alice.token, '--dir', source, '--peer', 'alice-cli']);
  processes.push(host);
  await host.waitForLine(/hosting 40 files/, 30_000);

  const pull = startTsProcess('libs/client-node/bin/chorus-sync.ts', {}, ['pull', ...common, '--token', people.bob.token, '--dir', target, '--format', 'seed']);
  expect(await pull.exited).toBe(0);
  expect(pull.lines.join('\n')).toMatch(/100% .* 40\/40 files/);
  expect(pull.lines).toContainEqual(expect.stringMatching(/^pulled 40 file\(s\) from alice-cli \(40 added, 0 changed, 0 unchanged; not on the host: 1\)/));
  expect(await hashesOf(target, expected.keys())).toEqual(expected);

  const again = startTsProcess('libs/client-node/bin/chorus-sync.ts', {}, ['pull', ...common, '--token', people.bob.token, '--dir', target, '--format', 'compact']);
  expect(await again.exited).toBe(0);
  expect(again.lines).toContainEqual(expect.stringMatching(/^pulled 0 file\(s\) from alice-cli \(0 added, 0 changed, 40 unchanged/));
}, 90_000);

it('runs as `npx chorus-sync` from inside the repository: --help, and a real pull with the token from CHORUS_TOKEN', async () => {
  // npx finds the command in the root package.json's "bin"; offline, so it never asks a registry for it.
  const npx = (args: string[], env: Record<string, string> = {}) => startCommand('npx', ['chorus-sync', ...args], { npm_config_offline: 'true', ...env }, resolve(__dirname, '..', '..', 'docs'));
  const help = npx(['--help']);
  processes.push(help);
  expect(await help.exited).toBe(0);
  expect(help.lines[0]).toMatch(/^usage: chorus-sync host\|pull --url URL/);
  expect(help.lines.join('\n')).toContain('withheld by rules');

  const url = `http://127.0.0.1:${node.port}`;
  const people = await setUpSession(url, 'npx');
  const source = await temp('npx-host');
  const expected = await writeProject(source, { files: 12, bigBytes: 256 * 1024, seed: 11 });
  // A path rule hides assets/** (the big file) from Bob: pull says one file was withheld, and never writes it.
  const rules = { rules: [{ name: 'assets-hidden-from-bob', pattern: 'assets/**', user_id: 'bob-npx', access: 'none' }] };
  expect((await new Api(url).request('PUT', `/api/v1/collaboration/sessions/${people.sessionId}/file-rules`, { token: people.alice.token, body: rules })).status).toBe(200);
  expect(expected.has('assets/big.bin')).toBe(true);
  expected.delete('assets/big.bin');
  const host = startTsProcess('libs/client-node/bin/chorus-sync.ts', {}, ['host', '--url', url, '--session', people.sessionId, '--token', people.alice.token, '--dir', source, '--peer', 'alice-npx']);
  processes.push(host);
  await host.waitForLine(/hosting 12 files/, 30_000);

  const target = await temp('npx-guest');
  const pull = npx(['pull', '--url', url, '--session', people.sessionId, '--dir', target], { CHORUS_TOKEN: people.bob.token });
  processes.push(pull);
  expect(await pull.exited).toBe(0);
  expect(pull.lines).toContainEqual(expect.stringMatching(/^pulled 11 file\(s\) from alice-npx \(11 added, 0 changed, 0 unchanged; not on the host: 0; 1 file\(s\) withheld by rules\)$/));
  expect(pull.lines.join('\n')).not.toContain(people.bob.token);
  expect(await hashesOf(target, expected.keys())).toEqual(expected);
  expect(existsSync(join(target, 'assets'))).toBe(false);
}, 90_000);
