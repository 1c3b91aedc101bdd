import { ChorusError } from '@chorus/protocol';
import type { TextOp } from '@chorus/ot';

// What Postgres `text` and `jsonb` cannot hold: U+0000 (text refuses the byte, jsonb the \u0000 escape), and
// unpaired UTF-16 surrogates (the driver encodes one as U+FFFD, so the stored string differs from the one the
// committer keys by — a doc_id then "vanishes" after creation). Either makes a statement fail, and with group
// commit a failed statement fails every submit it carries: so the service refuses them itself, before
// planning, whatever the gateway already checked.

// eslint-disable-next-line no-control-regex -- U+0000 is exactly what this pattern looks for
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `text` cannot be stored (with the UTF-16 index), or undefined when it can. */
export function unstorableReason(text: string): string | undefined {
  const at = text.search(UNSTORABLE);
  if (at === -1) return undefined;
  return text.charCodeAt(at) === 0 ? `contains U+0000 (NUL) at code unit ${at}` : `contains an unpaired UTF-16 surrogate at code unit ${at}`;
}

export const isStorableText = (text: string): boolean => !UNSTORABLE.test(text);

/** VALIDATION_ERROR naming the first insert or delete text of `op` the store cannot hold; nothing if all can. */
export function assertStorableOp(op: TextOp): void {
  op.forEach((c, i) => {
    const [field, text] = typeof c === 'string' ? [`op.${i}`, c] : typeof c === 'object' && typeof c.d === 'string' ? [`op.${i}.d`, c.d] : [undefined, undefined];
    const reason = text === undefined ? undefined : unstorableReason(text);
    if (field !== undefined && reason !== undefined) {
      throw ChorusError.validation(field, `Op refused: ${field} ${reason}, which a document cannot hold. Nothing was applied; remove the character and send the op again (a resend as it is will fail the same way).`);
    }
  });
}
