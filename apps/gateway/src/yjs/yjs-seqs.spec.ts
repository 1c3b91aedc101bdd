import { YjsSeqs } from './yjs-seqs';

describe('YjsSeqs (which durable updates reached this gateway)', () => {
  it('starts at the first state read: pushes before it up to its head are in it, one after it is not a hole', () => {
    const s = new YjsSeqs();
    s.pushed(4);
    s.pushed(6);
    expect(s.gap).toBe(false);
    s.read(5);
    expect(s.gap).toBe(false);
    s.pushed(7);
    expect(s.gap).toBe(false);
  });

  it('a missing seq is a hole until it arrives (pushes out of order)', () => {
    const s = new YjsSeqs();
    s.read(2);
    s.pushed(4);
    expect(s.gap).toBe(true);
    expect(s.missingFrom).toBe(3);
    s.pushed(3);
    expect(s.gap).toBe(false);
    s.pushed(3);
    expect(s.gap).toBe(false);
  });

  it("a later read's head beyond what was pushed is a hole for the subscribers already here; a fill closes it", () => {
    const s = new YjsSeqs();
    s.read(2);
    s.read(5);
    expect(s.gap).toBe(true);
    expect(s.missingFrom).toBe(3);
    s.pushed(7);
    s.filled(5);
    expect(s.missingFrom).toBe(6);
    s.pushed(6);
    expect(s.gap).toBe(false);
  });
});
