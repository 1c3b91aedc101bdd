import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(__dirname, '..', '..', '..');
/** Everything the browser tests and the benchmark write: gitignored. */
export const OUTPUT_DIR = join(ROOT, 'test-output', 'browser');
const SOURCES = ['apps/web/src', 'apps/web/index.html', 'apps/web/vite.config.mjs', 'libs/client/src', 'libs/protocol/src', 'libs/ot/src', 'package-lock.json'];

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => filesUnder(join(path, name)));
}

/**
 * The browser app built from the current sources, once per content: test-output/browser/web-<hash>. The tests
 * run on a fresh clone (no `npm run build`) and must test this commit's app, never a stale dist/web. Built into a
 * temporary folder and renamed, so two test files building at once both end up with a complete build.
 */
export async function ensureWebBuild(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of SOURCES.flatMap((s) => filesUnder(join(ROOT, s)))) {
    if (file.endsWith('.spec.ts')) continue;
    hash.update(file.slice(ROOT.length)).update(readFileSync(file));
  }
  const dir = join(OUTPUT_DIR, `web-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(join(dir, 'index.html'))) return dir;
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'apps/web/vite.config.mjs', '--outDir', tmp, '--emptyOutDir', '--logLevel', 'warn'], {
    cwd: ROOT,
    timeout: 120_000,
  });
  try {
    renameSync(tmp, dir);
  } catch (err) {
    // Another test file finished the same build first: keep theirs.
    if (!existsSync(join(dir, 'index.html'))) throw err;
    rmSync(tmp, { recursive: true, force: true });
  }
  // Builds of earlier sources are never used again.
  for (const name of readdirSync(OUTPUT_DIR)) {
    if (/^web-[0-9a-f]{16}$/.test(name) && join(OUTPUT_DIR, name) !== dir) rmSync(join(OUTPUT_DIR, name), { recursive: true, force: true });
  }
  return dir;
}
