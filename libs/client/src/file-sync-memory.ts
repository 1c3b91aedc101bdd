import { ChorusError, manifestSchema, normalizeFilePath, type Manifest, type ManifestEntry } from '@chorus/protocol';
import { sha256Hex, type FileSource } from './file-sync';

// Project file sync from memory (docs/file-sync.md, "In the browser app"): a project held as path → bytes — a
// browser tab's files, a test's fixture — served by FileSyncHost, and the manifest of such a project for
// syncDiff on a guest. Browser-safe (WebCrypto); the disk source (Node) is diskSource in @chorus/client-node.

/** One file of an in-memory project: its bytes and when it last changed (epoch ms; default: when first hashed). */
export interface MemoryFile {
  readonly bytes: Uint8Array;
  readonly modified?: number;
}

/** An in-memory project: normal paths (normalizeFilePath) → bytes, or bytes with their modification time. */
export type MemoryProject = ReadonlyMap<string, Uint8Array | MemoryFile>;

// A file's sha256 is computed once per byte array (the same bytes are served by every manifest asked for).
const hashes = new WeakMap<Uint8Array, { hash: string; at: number }>();

async function hashOf(bytes: Uint8Array): Promise<{ hash: string; at: number }> {
  let known = hashes.get(bytes);
  if (!known) {
    known = { hash: await sha256Hex(bytes), at: Date.now() };
    hashes.set(bytes, known);
  }
  return known;
}

const fileOf = (value: Uint8Array | MemoryFile): MemoryFile => (value instanceof Uint8Array ? { bytes: value } : value);

/**
 * The manifest of an in-memory project, sorted by path: each file's sha256, size and modification time. A path not
 * in normal form, or a project over the manifest's caps, is VALIDATION_ERROR (what the server would refuse).
 */
export async function memoryManifest(project: MemoryProject): Promise<Manifest> {
  const files: ManifestEntry[] = [];
  for (const [path, value] of [...project].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const normal = normalizeFilePath(path);
    if (!normal.ok || normal.path !== path) throw ChorusError.validation('path', normal.ok ? `"${path}" is not in normal form (use "${normal.path}").` : `"${path}" ${normal.reason}.`);
    const file = fileOf(value);
    const { hash, at } = await hashOf(file.bytes);
    files.push({ path, hash, size: file.bytes.length, modified: file.modified ?? at });
  }
  const parsed = manifestSchema.safeParse({ files });
  if (!parsed.success) throw ChorusError.validation('files', `The project cannot be shared: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/**
 * A FileSource over an in-memory project for FileSyncHost. The map is read at every request: files added or
 * changed after `share()` are in the next manifest a guest fetches (a file changed during a transfer fails that
 * file's sha256 on the guest, FILE_INTEGRITY, and is fetched again).
 */
export function memorySource(project: MemoryProject): FileSource {
  return {
    manifest: () => memoryManifest(project),
    read: async (path, offset, length) => {
      const value = project.get(path);
      if (value === undefined) throw new ChorusError('NOT_FOUND', `"${path}" is not in this project.`);
      return fileOf(value).bytes.subarray(offset, offset + length);
    },
  };
}
