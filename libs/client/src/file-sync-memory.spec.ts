import { ChorusError } from '@chorus/protocol';
import { syncDiff } from './file-sync';
import { memoryManifest, memorySource } from './file-sync-memory';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('memorySource and memoryManifest', () => {
  it('lists an in-memory project by path with sha256, size and modified, and serves byte ranges', async () => {
    const project = new Map<string, Uint8Array | { bytes: Uint8Array; modified: number }>([
      ['src/main.ts', { bytes: bytes('hello world'), modified: 1_700_000_000_000 }],
      ['README.md', bytes('')],
    ]);
    const source = memorySource(project);
    const { files } = await source.manifest();
    expect(files.map((f) => f.path)).toEqual(['README.md', 'src/main.ts']);
    expect(files[1]).toEqual({ path: 'src/main.ts', hash: 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9', size: 11, modified: 1_700_000_000_000 });
    expect(files[0]).toMatchObject({ hash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size: 0 });
    expect(new TextDecoder().decode(await source.read('src/main.ts', 6, 5))).toBe('world');
    await expect(source.read('nope.txt', 0, 1)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('reads the map at every request: a file added after sharing is in the next manifest', async () => {
    const project = new Map<string, Uint8Array>([['a.txt', bytes('a')]]);
    const source = memorySource(project);
    const before = (await source.manifest()).files;
    project.set('b.txt', bytes('b'));
    project.set('a.txt', bytes('A'));
    const after = (await source.manifest()).files;
    expect(syncDiff(before, after)).toEqual({ add: ['b.txt'], update: ['a.txt'], delete: [], unchanged: [] });
  });

  it('refuses a path not in normal form with a typed error naming it', async () => {
    for (const bad of ['./a.txt', '../x', '/etc/passwd']) {
      const err = await memoryManifest(new Map([[bad, bytes('x')]])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChorusError);
      expect(err).toMatchObject({ code: 'VALIDATION_ERROR' });
      expect((err as ChorusError).message).toContain(bad);
    }
  });
});
