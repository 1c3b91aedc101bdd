import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYNC_READ_BYTES, buildManifest, diskSource, ignoreMatcher, writeFiles } from './file-sync-node';

describe('ignoreMatcher (.gitignore rules)', () => {
  it('matches globs, anchors, directories and negations, later lines winning', () => {
    const ignored = ignoreMatcher(['*.log', '/build', 'node_modules/', '!keep.log', 'docs/**/draft-*.md']);
    expect(ignored('a/b/x.log', false)).toBe(true);
    expect(ignored('keep.log', false)).toBe(false);
    expect(ignored('build', true)).toBe(true);
    expect(ignored('src/build', true)).toBe(false);
    expect(ignored('pkg/node_modules', true)).toBe(true);
    expect(ignored('pkg/node_modules', false)).toBe(false);
    expect(ignored('docs/a/b/draft-1.md', false)).toBe(true);
    expect(ignored('docs/final.md', false)).toBe(false);
  });
});

describe('buildManifest, diskSource, writeFiles', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chorus-node-sync-'));
    await mkdir(join(dir, 'src'), { recursive: true });
    await mkdir(join(dir, '.git'), { recursive: true });
    await mkdir(join(dir, 'out'), { recursive: true });
    await writeFile(join(dir, '.gitignore'), 'out/\n');
    await writeFile(join(dir, 'src', 'main.rs'), 'hello world');
    await writeFile(join(dir, 'empty'), '');
    await writeFile(join(dir, '.git', 'HEAD'), 'ref');
    await writeFile(join(dir, 'out', 'bin'), 'x');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('lists files with streaming sha256, sorted, ignoring .git and .gitignore entries', async () => {
    const m = await buildManifest(dir);
    expect(m.files.map((f) => [f.path, f.size])).toEqual([
      ['.gitignore', 5],
      ['empty', 0],
      ['src/main.rs', 11],
    ]);
    expect(m.files[2].hash).toBe('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
  });

  it('reads byte ranges, and refuses to read or write outside the directory', async () => {
    const source = diskSource(dir);
    expect(Buffer.from(await source.read('src/main.rs', 6, 5)).toString()).toBe('world');
    await expect(source.read('../etc/passwd', 0, 1)).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
    await expect(writeFiles(dir, new Map([['../escape', new Uint8Array(1)]]))).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
  });

  it('reads the same bytes below and above SYNC_READ_BYTES (synchronous and asynchronous reads), short at the end', async () => {
    const bytes = Buffer.alloc(SYNC_READ_BYTES * 2 + 7).map((_, i) => (i * 7) & 0xff);
    await writeFile(join(dir, 'src', 'big.bin'), bytes);
    const source = diskSource(dir);
    expect(Buffer.from(await source.read('src/big.bin', 3, SYNC_READ_BYTES)).equals(bytes.subarray(3, 3 + SYNC_READ_BYTES))).toBe(true);
    expect(Buffer.from(await source.read('src/big.bin', 5, SYNC_READ_BYTES + 1)).equals(bytes.subarray(5, 6 + SYNC_READ_BYTES))).toBe(true);
    expect((await source.read('src/big.bin', bytes.length - 4, 100)).length).toBe(4);
    expect((await source.read('src/big.bin', bytes.length - 4, SYNC_READ_BYTES + 100)).length).toBe(4);
    await expect(source.read('src/missing.bin', 0, 10)).rejects.toMatchObject({ code: 'ENOENT' });
    await rm(join(dir, 'src', 'big.bin'));
  });
});
