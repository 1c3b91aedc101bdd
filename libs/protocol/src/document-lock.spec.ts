import { MAX_JOINED_LOCKS } from './messages-live';
import { parseServerMessageStrict } from './validate';

// `document.lock` (issue 20): the lock state a reopening client recovers. Optional (document_at, older servers),
// null when unlocked, otherwise the file_locked fields.
describe('document.lock', () => {
  const base = { type: 'document', id: 9, session_id: '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d', doc_id: 'a.txt', version: 3, content: 'abc' };
  const lock = { holder_id: 'alice', peer_id: 'alice-tab', expires_at: '2026-11-22T10:05:00.000Z' };

  it('is optional, nullable, or the holder, peer and expiry', () => {
    expect(parseServerMessageStrict(base).ok).toBe(true);
    expect(parseServerMessageStrict({ ...base, lock: null }).ok).toBe(true);
    expect(parseServerMessageStrict({ ...base, lock }).ok).toBe(true);
  });

  it('refuses a lock missing a field or with a non-string holder', () => {
    expect(parseServerMessageStrict({ ...base, lock: { holder_id: 'alice', peer_id: 'alice-tab' } }).ok).toBe(false);
    expect(parseServerMessageStrict({ ...base, lock: { ...lock, holder_id: 7 } }).ok).toBe(false);
  });
});

// `joined.locks` (issue 20): every live lock of the session on (re)join. Optional (older servers; the document
// service did not answer), bounded by MAX_JOINED_LOCKS.
describe('joined.locks', () => {
  const base = { type: 'joined', id: 1, session_id: '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d', peer_id: 'p', participants: [], seq: 3, recovered: true };
  const lock = { doc_id: 'a.txt', holder_id: 'alice', peer_id: 'alice-tab', expires_at: '2026-11-22T10:05:00.000Z' };

  it('is optional, or a list of doc_id + the file_locked fields with locks_truncated', () => {
    expect(parseServerMessageStrict(base).ok).toBe(true);
    expect(parseServerMessageStrict({ ...base, locks: [], locks_truncated: false }).ok).toBe(true);
    expect(parseServerMessageStrict({ ...base, locks: [lock, { ...lock, doc_id: 'b.txt' }], locks_truncated: false }).ok).toBe(true);
  });

  it('refuses a lock without its doc_id, and more than MAX_JOINED_LOCKS', () => {
    const { doc_id: _d, ...noDoc } = lock;
    expect(parseServerMessageStrict({ ...base, locks: [noDoc] }).ok).toBe(false);
    const many = Array.from({ length: MAX_JOINED_LOCKS + 1 }, (_, i) => ({ ...lock, doc_id: `f${i}.txt` }));
    expect(parseServerMessageStrict({ ...base, locks: many.slice(0, MAX_JOINED_LOCKS), locks_truncated: true }).ok).toBe(true);
    expect(parseServerMessageStrict({ ...base, locks: many, locks_truncated: true }).ok).toBe(false);
  });
});
