import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const ROOT = resolve(__dirname, '..', '..', '..');

/** The objects `kubectl kustomize <dir>` renders, offline. No kubectl is a failure, never a skip. */
export function renderOverlay(dir: string, env: NodeJS.ProcessEnv = process.env): unknown[] {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error('kubectl is not installed: test/deploy renders the k8s overlays with `kubectl kustomize` (kubectl >= 1.27, kustomize v5). Install kubectl; do not skip this test.');
    }
    throw new Error(`kubectl kustomize ${dir} failed:\n${e.stderr ?? e.message}`);
  }
  return parseYamlDocuments(out);
}

export function parseYamlDocuments(text: string): unknown[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`YAML: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as unknown;
    })
    .filter((o) => o !== null);
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}
