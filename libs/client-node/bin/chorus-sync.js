#!/usr/bin/env node
'use strict';
// The `chorus-sync` command of this repository (the root package.json's "bin"): `npx chorus-sync host|pull …`
// from anywhere inside the repository (docs/file-sync.md, "The CLI"). It runs the compiled CLI when the build is
// there and not older than the source (`npm run build`: dist/libs/client-node/bin/chorus-sync.js), else the
// TypeScript source through SWC with the repository's tsconfig (its `@chorus/*` aliases), as `npm run chorus-sync`
// does. The working directory stays the caller's: `--dir` is relative to it.
const { existsSync, statSync } = require('node:fs');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..', '..', '..');
const source = join(__dirname, 'chorus-sync.ts');
const compiled = join(root, 'dist', 'libs', 'client-node', 'bin', 'chorus-sync.js');
const fresh = existsSync(compiled) && statSync(compiled).mtimeMs >= statSync(source).mtimeMs;
if (fresh && process.env.CHORUS_SYNC_FROM_SOURCE !== '1') {
  require(compiled);
} else {
  process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || join(root, 'tsconfig.json');
  require(require.resolve('@swc-node/register', { paths: [root] }));
  require(source);
}
