import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh CHORUS_DATA_DIR for a standalone under test. mkdtemp makes it 0700: run as root (CI), the embedded
 * Postgres runs as the OS user "postgres", which could not enter it. The folder is the test's own, so opening
 * it for traversal is harmless.
 */
export async function standaloneDataDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `chorus-${label}-`));
  await chmod(dir, 0o755);
  return dir;
}
