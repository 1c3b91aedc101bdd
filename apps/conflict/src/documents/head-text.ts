import { applyOp, composeAll, type TextOp } from '@chorus/ot';

const UNBOUNDED = { maxDocLength: Number.MAX_SAFE_INTEGER, maxOpChars: Number.MAX_SAFE_INTEGER, maxComponents: Number.MAX_SAFE_INTEGER };

/**
 * The text at `to`, from the text at `from` and the committed ops (from, to] (any superset, in version order:
 * the others are skipped). Throws if one is missing or does not apply — the store would be inconsistent, and a
 * commit must not go on from a wrong text. This is how the head text is built from the checkpoint
 * (`documents.content` at `content_version`), or from a cached older head.
 */
export function replayText(docId: string, text: string, from: number, to: number, ops: ReadonlyArray<{ version: number; op: TextOp }>): string {
  const run: TextOp[] = [];
  let at = from;
  for (const o of ops) {
    if (o.version <= at || o.version > to) continue;
    if (o.version !== at + 1) break;
    run.push(o.op);
    at = o.version;
  }
  if (at !== to) throw new Error(`the ops (${at}, ${to}] of ${docId} are missing: cannot rebuild its text at ${to}`);
  if (run.length === 0) return text;
  // Composed first (cost of the ops, not of the text), then applied once: one pass over the text, not one per op.
  const applied = applyOp(text, run.length === 1 ? run[0] : composeAll(run), UNBOUNDED);
  if (!applied.ok) throw new Error(`stored ops (${from}, ${to}] of ${docId} do not apply: ${applied.error.message}`);
  return applied.doc;
}
