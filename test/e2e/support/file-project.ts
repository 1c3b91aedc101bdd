import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mulberry32 } from '@chorus/testing';

/** A seeded PRNG (mulberry32): the same project for the same seed. */
export const prng = mulberry32;

export interface ProjectSpec {
  readonly files: number;
  /** Bytes of the one big file. */
  readonly bigBytes: number;
  readonly seed: number;
}

const NAMES = ['ünïcødé', 'файл', '日本語', 'emoji-🚀', 'space name', 'naïve café', 'ελληνικά', 'עברית'];

/**
 * Writes a project under `dir`: text and binary files of random sizes (up to 24 KiB), empty files, unicode and
 * space names in nested folders, one big binary file, and a .gitignore with an ignored folder. Returns the sha256
 * of every file that should sync (path → hash), the ignored ones left out.
 */
export async function writeProject(dir: string, spec: ProjectSpec): Promise<Map<string, string>> {
  const random = prng(spec.seed);
  const hashes = new Map<string, string>();
  const put = async (path: string, bytes: Uint8Array, synced = true) => {
    const full = join(dir, ...path.split('/'));
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, bytes);
    if (synced) hashes.set(path, createHash('sha256').update(bytes).digest('hex'));
  };
  const bytesOf = (n: number, text: boolean) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = text ? 32 + Math.floor(random() * 95) : Math.floor(random() * 256);
    return out;
  };
  await put('.gitignore', new TextEncoder().encode('ignored/\n*.tmp\n'));
  await put('ignored/secret.txt', bytesOf(100, true), false);
  await put('build.tmp', bytesOf(100, true), false);
  const big = new Uint8Array(spec.bigBytes);
  for (let i = 0; i < big.length; i += 4) new DataView(big.buffer).setUint32(i, Math.floor(random() * 2 ** 32));
  await put('assets/big.bin', big);
  for (let i = 0; hashes.size < spec.files; i++) {
    const folder = `${NAMES[i % NAMES.length]}/${Math.floor(i / 40)}`;
    if (i % 25 === 0) await put(`${folder}/empty-${i}.txt`, new Uint8Array(0));
    else if (i % 3 === 0) await put(`${folder}/blob-${i}.bin`, bytesOf(Math.floor(random() * 24 * 1024), false));
    else await put(`${folder}/${NAMES[(i * 7) % NAMES.length]}-${i}.txt`, bytesOf(Math.floor(random() * 8 * 1024), true));
  }
  return hashes;
}

/** sha256 of every file of `paths` under `dir`. */
export async function hashesOf(dir: string, paths: Iterable<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of paths) out.set(p, createHash('sha256').update(await readFile(join(dir, ...p.split('/')))).digest('hex'));
  return out;
}
