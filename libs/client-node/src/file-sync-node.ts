import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { ChorusError, normalizeFilePath, type Manifest, type ManifestEntry } from '@chorus/protocol';
import type { FileSource } from '@chorus/client';

// File sync on disk (Node only; the browser build leaves this file out): build a manifest of a directory with
// streaming sha256 and .gitignore-style ignores, serve its files, write downloaded ones.

/** One .gitignore-style rule: `*`, `**`, `?`, a leading `/` anchors, a trailing `/` matches directories, `!` re-includes. */
interface Rule {
  readonly negate: boolean;
  readonly dirOnly: boolean;
  readonly regex: RegExp;
}

function ruleOf(line: string): Rule | undefined {
  let l = line.replace(/\s+$/, '');
  if (l === '' || l.startsWith('#')) return undefined;
  const negate = l.startsWith('!');
  if (negate) l = l.slice(1);
  const dirOnly = l.endsWith('/');
  if (dirOnly) l = l.slice(0, -1);
  const anchored = l.startsWith('/') || l.slice(0, -1).includes('/');
  if (l.startsWith('/')) l = l.slice(1);
  let re = '';
  for (let i = 0; i < l.length; i++) {
    const c = l[i];
    if (c === '*' && l[i + 1] === '*') {
      re += l[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += l[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return { negate, dirOnly, regex: new RegExp(anchored ? `^${re}$` : `(?:^|/)${re}$`) };
}

/** A matcher of .gitignore-style lines (later lines win, as in git). */
export function ignoreMatcher(lines: readonly string[]): (path: string, isDir: boolean) => boolean {
  const rules = lines.map(ruleOf).filter((r): r is Rule => r !== undefined);
  return (path, isDir) => {
    let ignored = false;
    for (const r of rules) if ((!r.dirOnly || isDir) && r.regex.test(path)) ignored = !r.negate;
    return ignored;
  };
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface BuildManifestOptions {
  /** Extra .gitignore-style lines (the directory's own .gitignore is read too). `.git/` is always ignored. */
  readonly ignore?: readonly string[];
}

/** The manifest of `dir`: every regular file not ignored, normal paths, streaming sha256, sorted by path. */
export async function buildManifest(dir: string, options: BuildManifestOptions = {}): Promise<Manifest> {
  const gitignore = await readFile(join(dir, '.gitignore'), 'utf8').then((t) => t.split('\n'), () => [] as string[]);
  const ignored = ignoreMatcher(['.git/', ...gitignore, ...(options.ignore ?? [])]);
  const files: ManifestEntry[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const d of await readdir(at, { withFileTypes: true })) {
      const full = join(at, d.name);
      const rel = relative(dir, full).split(sep).join('/');
      if (d.isDirectory()) {
        if (!ignored(rel, true)) await walk(full);
        continue;
      }
      if (!d.isFile() || ignored(rel, false)) continue;
      const n = normalizeFilePath(rel);
      if (!n.ok) throw ChorusError.validation('path', `${rel} ${n.reason}`);
      const st = await stat(full);
      files.push({ path: n.path, hash: await sha256File(full), size: st.size, modified: Math.floor(st.mtimeMs) });
    }
  };
  await walk(dir);
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files };
}

/** Serves `dir` (its manifest built once, or the one given) to a FileSyncHost. */
export function diskSource(dir: string, manifest?: Manifest, options: BuildManifestOptions = {}): FileSource {
  let built: Promise<Manifest> | undefined = manifest ? Promise.resolve(manifest) : undefined;
  return {
    manifest: () => (built ??= buildManifest(dir, options)),
    async read(path, offset, length) {
      const n = normalizeFilePath(path);
      if (!n.ok || n.path !== path) throw ChorusError.validation('path', `Refusing to read "${path}".`);
      const fh = await open(join(dir, ...path.split('/')), 'r');
      try {
        // Not zero-filled: only the bytes read are handed out (a short read returns the part filled).
        const out = Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await fh.read(out, got, length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got === length ? out : out.subarray(0, got);
      } finally {
        await fh.close();
      }
    },
  };
}

/** Writes downloaded (verified) files under `dir`; paths are in normal form, so none escapes it. */
export async function writeFiles(dir: string, files: ReadonlyMap<string, Uint8Array>): Promise<void> {
  for (const [path, bytes] of files) {
    const n = normalizeFilePath(path);
    if (!n.ok || n.path !== path) throw ChorusError.validation('path', `Refusing to write "${path}".`);
    const target = join(dir, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes);
  }
}
