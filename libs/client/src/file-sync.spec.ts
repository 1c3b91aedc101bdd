import { normalizeFilePath } from '@chorus/protocol';
import { SYNC_SHA256_BYTES, chunkLayout, deflate, inflate, sha256Hex, sha256Now, syncDiff } from './file-sync';

const entry = (path: string, hash: string, size = 1) => ({ path, hash: hash.repeat(64), size, modified: 0 });

describe('syncDiff', () => {
  it('splits into add, update, delete and unchanged, by sha256 and size', () => {
    const local = [entry('same.txt', 'a'), entry('changed.txt', 'b'), entry('gone.txt', 'c')];
    const remote = [entry('same.txt', 'a'), entry('changed.txt', 'd'), entry('new/file.bin', 'e')];
    expect(syncDiff(local, remote)).toEqual({ add: ['new/file.bin'], update: ['changed.txt'], delete: ['gone.txt'], unchanged: ['same.txt'] });
  });
});

describe('chunkLayout', () => {
  it('packs small files, splits big ones, keeps empty ones, and covers every byte once', () => {
    const files = [
      { path: 'a', size: 10 },
      { path: 'empty', size: 0 },
      { path: 'big', size: 250 },
      { path: 'b', size: 5 },
    ];
    const chunks = chunkLayout(files, 100);
    expect(chunks.map((c) => c.reduce((n, e) => n + e.length, 0))).toEqual([100, 100, 65]);
    expect(chunks[0]).toEqual([
      { path: 'a', offset: 0, length: 10 },
      { path: 'empty', offset: 0, length: 0 },
      { path: 'big', offset: 0, length: 90 },
    ]);
    for (const f of files) {
      const parts = chunks.flat().filter((e) => e.path === f.path);
      expect(parts.reduce((n, e) => n + e.length, 0)).toBe(f.size);
      parts.forEach((e, i) => expect(e.offset).toBe(parts.slice(0, i).reduce((n, p) => n + p.length, 0)));
    }
  });

  it('is the same on both sides for the same files and chunk size (what resume relies on)', () => {
    const files = Array.from({ length: 50 }, (_, i) => ({ path: `f${i}`, size: (i * 37) % 300 }));
    expect(chunkLayout(files, 256)).toEqual(chunkLayout(files.map((f) => ({ ...f })), 256));
  });
});

describe('hashing and deflate', () => {
  it('hashes like sha256sum and round-trips deflate', async () => {
    expect(await sha256Hex(new TextEncoder().encode('hello world'))).toBe('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
    const bytes = new TextEncoder().encode('abc'.repeat(10_000));
    const packed = await deflate(bytes);
    expect(packed.length).toBeLessThan(bytes.length / 10);
    expect(await inflate(packed)).toEqual(bytes);
  });
});

describe('normalizeFilePath', () => {
  it('normalises disk spellings and refuses what cannot be a project path', () => {
    expect(normalizeFilePath('./src\\main.rs')).toEqual({ ok: true, path: 'src/main.rs' });
    expect(normalizeFilePath('a//b/./c')).toEqual({ ok: true, path: 'a/b/c' });
    expect(normalizeFilePath('日本語/名前.txt')).toEqual({ ok: true, path: '日本語/名前.txt' });
    for (const bad of ['/etc/passwd', 'C:\\x', '../x', 'a/../../x', 'a\u0000b', '', './']) expect(normalizeFilePath(bad).ok).toBe(false);
  });
});

describe('sha256Now', () => {
  it('hashes at once in Node up to SYNC_SHA256_BYTES, the same digest as WebCrypto; larger inputs are left to sha256Hex', async () => {
    const small = new TextEncoder().encode('hello world');
    expect(sha256Now(small)).toBe('b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9');
    const chunk = new Uint8Array(SYNC_SHA256_BYTES).map((_, i) => (i * 31) & 0xff);
    const webCrypto = [...new Uint8Array(await crypto.subtle.digest('SHA-256', chunk))].map((b) => b.toString(16).padStart(2, '0')).join('');
    expect(sha256Now(chunk)).toBe(webCrypto);
    const big = new Uint8Array(SYNC_SHA256_BYTES + 1);
    expect(sha256Now(big)).toBeUndefined();
    const bigWebCrypto = [...new Uint8Array(await crypto.subtle.digest('SHA-256', big))].map((b) => b.toString(16).padStart(2, '0')).join('');
    expect(await sha256Hex(big)).toBe(bigWebCrypto);
  });
});
