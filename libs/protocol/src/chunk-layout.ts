import type { ChunkEntry } from './messages-filesync';

/**
 * The compact format's chunks of a transfer: the files' bytes in request order, cut every `chunkSize` bytes (small
 * files packed together, a big one split; an empty file is an entry of length 0). Host, guest and the server's
 * file cache compute the same layout from the manifest, so a resumed transfer names chunks by index.
 */
export function chunkLayout(files: readonly { path: string; size: number }[], chunkSize: number): ChunkEntry[][] {
  const chunks: ChunkEntry[][] = [];
  let current: ChunkEntry[] = [];
  let used = 0;
  const close = () => {
    chunks.push(current);
    current = [];
    used = 0;
  };
  for (const f of files) {
    let offset = 0;
    do {
      if (used === chunkSize || current.length === MAX_CHUNK_ENTRIES) close();
      const length = Math.min(f.size - offset, chunkSize - used);
      current.push({ path: f.path, offset, length });
      offset += length;
      used += length;
    } while (offset < f.size);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
const MAX_CHUNK_ENTRIES = 2_048;
