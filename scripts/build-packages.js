#!/usr/bin/env node
'use strict';
// Builds the publishable packages @chorus/protocol, @chorus/ot and @chorus/client into libs/<name>/dist:
//   dist/index.js    one ESM file per package (esbuild); every bare import stays external (zod, ot-text-unicode,
//                    socket.io-client and the other @chorus packages), so an app holds one copy of each;
//   dist/**/*.d.ts   declarations (tsc with libs/client/tsconfig.browser.json: DOM + ES2022, no Node types),
//                    relative specifiers given their `.js` so that `moduleResolution: node16` consumers resolve them;
//   dist/package.json `{"type": "module"}`: the package root stays CommonJS for the monorepo's own tools.
// The services do not use these builds: inside the monorepo `@chorus/*` resolves to libs/*/src (tsconfig paths,
// jest moduleNameMapper, tsc-alias), as before.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const esbuild = require('esbuild');

const ROOT = path.resolve(__dirname, '..');
const PACKAGES = ['protocol', 'ot', 'client'];
const EXTERNAL = ['zod', 'ot-text-unicode', 'socket.io-client', '@chorus/*', 'yjs', 'y-protocols/*', 'lib0/*'];
/** Entries besides index.ts: @chorus/client/yjs (docs/yjs.md), kept apart so the core SDK does not pull in Yjs. */
const EXTRA_ENTRIES = { client: ['yjs'] };

/** `from './x'` → `from './x.js'` (or './x/index.js') in a declaration file, when that file exists. */
function withExtensions(file) {
  const dir = path.dirname(file);
  const text = fs.readFileSync(file, 'utf8').replace(/((?:from|import)\s*\(?\s*['"])(\.{1,2}\/[^'"]+)(['"])/g, (all, head, spec, tail) => {
    if (spec.endsWith('.js')) return all;
    if (fs.existsSync(path.join(dir, `${spec}.d.ts`))) return `${head}${spec}.js${tail}`;
    if (fs.existsSync(path.join(dir, spec, 'index.d.ts'))) return `${head}${spec}/index.js${tail}`;
    return all;
  });
  fs.writeFileSync(file, text);
}

function walk(dir, out = []) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else out.push(full);
  }
  return out;
}

async function main() {
  const declarations = path.join(ROOT, 'dist', '.package-types');
  fs.rmSync(declarations, { recursive: true, force: true });
  const tsc = require.resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'libs/client/tsconfig.browser.json'), '--noEmit', 'false', '--declaration', '--emitDeclarationOnly', '--rootDir', path.join(ROOT, 'libs'), '--outDir', declarations], { stdio: 'inherit' });
  for (const name of PACKAGES) {
    const dist = path.join(ROOT, 'libs', name, 'dist');
    fs.rmSync(dist, { recursive: true, force: true });
    fs.cpSync(path.join(declarations, name, 'src'), dist, { recursive: true });
    for (const file of walk(dist)) if (file.endsWith('.d.ts')) withExtensions(file);
    for (const entry of ['index', ...(EXTRA_ENTRIES[name] ?? [])]) await esbuild.build({
      entryPoints: [path.join(ROOT, 'libs', name, 'src', `${entry}.ts`)],
      outfile: path.join(dist, `${entry}.js`),
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      sourcemap: true,
      external: EXTERNAL,
      tsconfig: path.join(ROOT, 'libs/client/tsconfig.browser.json'),
      logLevel: 'warning',
    });
    fs.writeFileSync(path.join(dist, 'package.json'), '{ "type": "module" }\n');
  }
  fs.rmSync(declarations, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
