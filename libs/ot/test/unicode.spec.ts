import fc from 'fast-check';
import { codePointLength, codePointsToUtf16, findLoneSurrogate, isWellFormedUtf16, sliceCodePoints, utf16ToCodePoints } from '../src';
import { textArb } from './text-arbitraries';

describe('code points ⇄ UTF-16 offsets', () => {
  it('counts an astral character as one code point', () => {
    expect(codePointLength('a😀b')).toBe(3);
    expect(codePointsToUtf16('a😀b', 2)).toBe(3);
    expect(utf16ToCodePoints('a😀b', 3)).toBe(2);
    expect(sliceCodePoints('a😀b𝔸c', 1, 4)).toBe('😀b𝔸');
  });

  it('round-trips every position and agrees with Array.from', () => {
    fc.assert(
      fc.property(textArb(20).chain((t) => fc.tuple(fc.constant(t), fc.nat({ max: Array.from(t).length }))), ([text, cp]) => {
        const units = codePointsToUtf16(text, cp);
        expect(units).toBe(Array.from(text).slice(0, cp).join('').length);
        expect(utf16ToCodePoints(text, units)).toBe(cp);
        expect(codePointLength(text)).toBe(Array.from(text).length);
      }),
    );
  });

  it('rounds an offset inside a surrogate pair down to the pair', () => {
    expect(utf16ToCodePoints('a😀b', 2)).toBe(1);
  });

  it('rejects offsets outside the text', () => {
    expect(() => utf16ToCodePoints('ab', 3)).toThrow(RangeError);
    expect(() => utf16ToCodePoints('ab', -1)).toThrow(RangeError);
    expect(() => codePointsToUtf16('a😀', 3)).toThrow(RangeError);
    expect(() => codePointsToUtf16('ab', 0.5)).toThrow(RangeError);
  });

  it('finds lone surrogates', () => {
    expect(isWellFormedUtf16('a😀𝔸')).toBe(true);
    expect(findLoneSurrogate('ab\ud83d')).toBe(2);
    expect(findLoneSurrogate('\ude00a')).toBe(0);
    expect(findLoneSurrogate('a\ud83dx\ude00')).toBe(1);
    expect(findLoneSurrogate('😀'.split('').reverse().join(''))).toBe(0);
  });
});
