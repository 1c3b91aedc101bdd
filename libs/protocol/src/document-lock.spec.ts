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
