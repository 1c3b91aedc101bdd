import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { textType } from '../src';
import type { TextOp } from '../src';
import { ALPHABET, buildOp, Step } from './text-arbitraries';

/**
 * Our own random-op generator for ot-fuzzer: expected results come from the code-point oracle in buildOp,
 * never from type.apply. Deletes are favoured on long documents so the document size stays bounded.
 */
function makeGenerator(randomInt: (n: number) => number): (doc: string) => [TextOp, string] {
  const text = (): string => Array.from({ length: 1 + randomInt(4) }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return (doc) => {
    const long = Array.from(doc).length > 40;
    const steps: Step[] = [];
    for (let k = randomInt(5); k >= 0; k--) {
      const roll = randomInt(10);
      if (roll < 3) steps.push({ kind: 'skip', n: 1 + randomInt(8) });
      else if (roll < (long ? 8 : 5)) steps.push({ kind: randomInt(2) ? 'delete' : 'deleteText', n: 1 + randomInt(long ? 8 : 3) });
      else steps.push({ kind: 'insert', text: text() });
    }
    const { op, result } = buildOp(doc, steps);
    return [op, result];
  };
}

describe('ot-fuzzer on textType', () => {
  it('passes 1,500 randomized iterations (apply, compose, invert, TP1, transform lists)', async () => {
    // ot-fuzzer reads and writes fuzzercrash.data in the working directory (also at load time): run it in a
    // fresh temp directory and load it only once we are there. A crash leaves its state file in that
    // directory, whose path the failure message gives, for replay (SYNCFILE=… SEED=…).
    const dir = mkdtempSync(join(tmpdir(), 'chorus-ot-fuzz-'));
    const cwd = process.cwd();
    const quiet = (['log', 'error', 'warn', 'time', 'timeEnd'] as const).map((m) => jest.spyOn(console, m).mockImplementation(() => undefined));
    let passed = false;
    try {
      process.chdir(dir);
      const { default: fuzzer } = await import('ot-fuzzer');
      // A copy: the fuzzer swaps the type's functions for counting wrappers while it runs.
      fuzzer({ ...textType }, makeGenerator(fuzzer.randomInt), 1500);
      expect(readdirSync(dir)).toEqual([]); // it deletes its state file on success
      passed = true;
    } finally {
      process.chdir(cwd);
      quiet.forEach((spy) => spy.mockRestore());
      if (passed) rmSync(dir, { recursive: true, force: true });
    }
  });
});
