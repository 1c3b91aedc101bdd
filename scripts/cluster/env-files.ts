import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';

/** KEY=VALUE lines as kustomize and compose read them: blank lines and # comments skipped. */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`not a KEY=VALUE line: "${line}"`);
    out.set(line.slice(0, eq).trim(), line.slice(eq + 1));
  }
  return out;
}

interface Generator {
  name: string;
  behavior?: 'create' | 'merge' | 'replace';
  envs?: string[];
  literals?: string[];
}
interface Kustomization {
  resources?: string[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
}

/**
 * The data of every ConfigMap and Secret an overlay generates, read from its kustomization files (base first,
 * then the overlay with kustomize's create/merge/replace behaviour), without kubectl. `npm run cluster:local`
 * uses the dev overlay's values so the local topology runs on the same configuration as the manifests.
 */
export function generatedData(kustomizationDir: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  const dir = resolve(kustomizationDir);
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  for (const res of k.resources ?? []) {
    if (res.endsWith('.yaml') || res.endsWith('.yml')) continue; // a file, not a kustomization directory
    for (const [name, data] of generatedData(join(dir, res))) out.set(name, data);
  }
  for (const g of [...(k.configMapGenerator ?? []), ...(k.secretGenerator ?? [])]) {
    const data = new Map<string, string>();
    for (const file of g.envs ?? []) for (const [key, value] of parseEnvFile(readFileSync(join(dir, file), 'utf8'))) data.set(key, value);
    for (const lit of g.literals ?? []) for (const [key, value] of parseEnvFile(lit)) data.set(key, value);
    const previous = out.get(g.name);
    out.set(g.name, g.behavior === 'merge' && previous ? new Map([...previous, ...data]) : data);
  }
  return out;
}

export const REPO_ROOT = resolve(dirname(__filename), '..', '..');
