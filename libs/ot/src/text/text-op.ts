import { codePointLength } from './unicode';

/**
 * A text op walks the base document from position 0 (all counts in code points):
 *   number N      skip N characters,
 *   "str"         insert "str" here,
 *   {d: N}        delete N characters,
 *   {d: "str"}    delete these characters (carries the text, which makes the op invertible).
 * Characters after the last component are kept. Canonical form (what `validateOp` accepts and what
 * `transform`/`compose`/`normalize` return): no empty components, no adjacent skips, no trailing skip.
 */
export type TextOpComponent = number | string | { d: number | string };
export type TextOp = TextOpComponent[];

/** Code points a delete removes. */
export const deleteLength = (d: number | string): number => (typeof d === 'number' ? d : codePointLength(d));

/**
 * A replacement: a maximal run of insert/delete components with no skip between them. It removes the base
 * range [start, end) and puts `inserted` code points in its place. Component order inside a run ("x",{d:2}
 * versus {d:2},"x") changes nothing in the resulting document, so cursor and overlap rules are stated on runs,
 * never on components: equivalent ops must give the same answers.
 */
export interface Replacement {
  start: number;
  end: number;
  inserted: number;
}

/** The replacements of a well-formed op, in document order, with base-document positions. */
export function replacements(op: readonly TextOpComponent[]): Replacement[] {
  const runs: Replacement[] = [];
  let pos = 0;
  let current: Replacement | null = null;
  for (const c of op) {
    if (typeof c === 'number') {
      current = null;
      pos += c;
      continue;
    }
    if (current === null) {
      current = { start: pos, end: pos, inserted: 0 };
      runs.push(current);
    }
    if (typeof c === 'string') {
      current.inserted += codePointLength(c);
    } else {
      pos += deleteLength(c.d);
      current.end = pos;
    }
  }
  return runs;
}

export interface OpSummary {
  /** Code points inserted. */
  inserted: number;
  /** Code points deleted. */
  deleted: number;
  /** Length of the base document the op reaches (skips + deletes); the document may be longer. */
  reach: number;
}

/** Counts for the audit log. Assumes a well-formed op. */
export function summarize(op: readonly TextOpComponent[]): OpSummary {
  let inserted = 0;
  let deleted = 0;
  let reach = 0;
  for (const c of op) {
    if (typeof c === 'number') reach += c;
    else if (typeof c === 'string') inserted += codePointLength(c);
    else {
      const n = deleteLength(c.d);
      deleted += n;
      reach += n;
    }
  }
  return { inserted, deleted, reach };
}
