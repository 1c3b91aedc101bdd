import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import * as esbuild from 'esbuild';

// The SDK and the two libs it ships with are real packages: ESM with declarations behind an `exports` map,
// importable by a plain Node ESM consumer and type-checked by a `node16` TypeScript consumer, and bundled for the
// browser without any Node built-in or global.

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PACKAGES = ['protocol', 'ot', 'client'] as const;
const CHECK_DIR = path.join(ROOT, 'dist', '.package-check');
const node = process.execPath;

interface PackageJson {
  name: string;
  exports: Record<string, { types: string; import: string } | string>;
  peerDependencies?: Record<string, string>;
  dependencies?: Record<string, string>;
}
const pkg = (name: string): PackageJson => JSON.parse(fs.readFileSync(path.join(ROOT, 'libs', name, 'package.json'), 'utf8')) as PackageJson;

describe('@chorus/protocol, @chorus/ot, @chorus/client as packages', () => {
  beforeAll(() => {
    execFileSync(node, [path.join(ROOT, 'scripts/build-packages.js')], { cwd: ROOT, stdio: 'pipe' });
    // A consumer next to the repository's node_modules, with the three packages linked in as if installed.
    fs.rmSync(CHECK_DIR, { recursive: true, force: true });
    fs.mkdirSync(path.join(CHECK_DIR, 'node_modules', '@chorus'), { recursive: true });
    for (const name of PACKAGES) fs.symlinkSync(path.join(ROOT, 'libs', name), path.join(CHECK_DIR, 'node_modules', '@chorus', name), 'dir');
  }, 120_000);

  it.each(PACKAGES)('@chorus/%s declares ESM + types behind its exports map, zod as a peer', (name) => {
    const json = pkg(name);
    expect(json.name).toBe(`@chorus/${name}`);
    const root = json.exports['.'];
    if (typeof root === 'string') throw new Error('exports["."] must name types and import');
    expect(fs.existsSync(path.join(ROOT, 'libs', name, root.types))).toBe(true);
    expect(fs.existsSync(path.join(ROOT, 'libs', name, root.import))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(ROOT, 'libs', name, 'dist', 'package.json'), 'utf8'))).toEqual({ type: 'module' });
    if (name !== 'ot') expect(json.peerDependencies?.zod).toBeDefined();
    expect(json.dependencies?.zod).toBeUndefined();
  });

  it('a Node ESM consumer imports all three through their exports maps', () => {
    const script = path.join(CHECK_DIR, 'consumer.mjs');
    fs.writeFileSync(
      script,
      [
        "import { PROTOCOL_VERSION, parseServerMessage } from '@chorus/protocol';",
        "import { textType } from '@chorus/ot';",
        "import { ChorusClient, opFromUtf16Change, utf16ChangesOf } from '@chorus/client';",
        "const op = opFromUtf16Change('a😀b', { from: 3, to: 4, insert: 'c' });",
        'console.log(JSON.stringify({',
        '  version: PROTOCOL_VERSION,',
        "  parsed: parseServerMessage({ type: 'pong', timestamp: 1 }).ok,",
        "  applied: textType.apply('a😀b', op),",
        "  changes: utf16ChangesOf('a😀b', op),",
        "  client: typeof ChorusClient,",
        '}));',
      ].join('\n'),
    );
    const out = execFileSync(node, ['--preserve-symlinks', script], { cwd: CHECK_DIR, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ version: 1, parsed: true, applied: 'a😀c', changes: [{ from: 3, to: 4, insert: 'c' }], client: 'function' });
  });

  it('a node16 TypeScript consumer gets the types, and a bare socket.io-client is typed by the event maps', () => {
    fs.writeFileSync(
      path.join(CHECK_DIR, 'consumer.mts'),
      [
        "import type { ClientToServerEvents, ServerToClientEvents } from '@chorus/protocol';",
        "import { ChorusClient, type ChatMessage } from '@chorus/client';",
        "import { io, type Socket } from 'socket.io-client';",
        "const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io('http://localhost:1', { autoConnect: false });",
        "socket.on('op', (m) => { const v: number = m.version; const peer: string = m.peer_id; void v; void peer; });",
        "// @ts-expect-error: `op` carries no `message`",
        "socket.on('op', (m) => m.message);",
        "export async function join(): Promise<number> {",
        "  const reply = await socket.timeout(1000).emitWithAck('join', { session_id: 's', peer_id: 'p', join_token: 't' });",
        "  return reply.type === 'error' ? -1 : reply.seq;",
        '}',
        "// @ts-expect-error: join needs a join_token",
        "socket.emit('join', { session_id: 's', peer_id: 'p' }, () => undefined);",
        "const client = new ChorusClient({ url: 'http://localhost:1', token: () => 'token' });",
        "client.session('s').on('chat', (m: ChatMessage) => m.seq);",
        "// @ts-expect-error: there is no such event",
        "client.on('nope', () => undefined);",
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(CHECK_DIR, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', lib: ['ES2022', 'DOM'], module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true, types: [], preserveSymlinks: true, skipLibCheck: false }, files: ['consumer.mts'] }),
    );
    const tsc = require.resolve('typescript/bin/tsc');
    // skipLibCheck is off: the packages' declarations (and what they import) must type-check too.
    const run = () => execFileSync(node, [tsc, '-p', path.join(CHECK_DIR, 'tsconfig.json')], { cwd: CHECK_DIR, encoding: 'utf8' });
    expect(run).not.toThrow();
  }, 60_000);

  it('bundles for the browser without any Node built-in or Node global', async () => {
    const builtins = new Set(builtinModules);
    const result = await esbuild.build({
      entryPoints: [path.join(ROOT, 'libs/client/src/index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      tsconfig: path.join(ROOT, 'libs/client/tsconfig.browser.json'),
      // A Node global that reaches the bundle is renamed to a marker we can find.
      define: { process: 'NODE_GLOBAL__process', Buffer: 'NODE_GLOBAL__Buffer', global: 'NODE_GLOBAL__global', __dirname: 'NODE_GLOBAL__dirname', setImmediate: 'NODE_GLOBAL__setImmediate' },
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((i) => i.startsWith('node:') || builtins.has(i))).toEqual([]);
    // Everything is inside: no import left for the page to resolve.
    for (const output of Object.values(result.metafile.outputs)) expect(output.imports).toEqual([]);
    // What the SDK pulls in: our three libs, zod, socket.io-client (browser build) and ot-text-unicode.
    expect(inputs.some((i) => i.includes('socket.io-client'))).toBe(true);
    expect(inputs.some((i) => i.includes('libs/ot/src'))).toBe(true);
    expect(inputs.some((i) => i.includes('libs/protocol/src'))).toBe(true);
    const text = result.outputFiles[0].text;
    expect([...new Set([...text.matchAll(/NODE_GLOBAL__\w+/g)].map((m) => m[0]))]).toEqual([]);
    expect(text).not.toMatch(/from\s*["']node:|require\(["']node:/);
  });
});
