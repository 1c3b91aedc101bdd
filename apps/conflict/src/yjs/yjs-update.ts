import * as Y from 'yjs';

/**
 * Checks an update the way it will be used: applied to a scratch Y.Doc, never to stored state. Yjs throws on
 * bytes it cannot decode (truncated, garbage, a wrong struct); a well-formed update with missing dependencies is
 * valid (Yjs keeps it pending until they arrive), as y-websocket's server treats it. Returns the reason when refused.
 */
export function checkUpdate(update: Uint8Array): string | undefined {
  if (update.length < 2) return 'an update has at least 2 bytes (two varints: struct and delete-set counts)';
  // A fixed guid: Y.Doc would otherwise draw a random uuid per check (a crypto call each, ~10% of an append's CPU).
  const scratch = new Y.Doc({ gc: false, guid: 'check' });
  try {
    Y.applyUpdate(scratch, update);
    return undefined;
  } catch (err) {
    return `not a Yjs update (${(err as Error)?.message ?? String(err)})`;
  } finally {
    scratch.destroy();
  }
}

/** Snapshot + log → one update (no Y.Doc needed: Yjs merges the encoded updates). */
export function mergeStored(snapshot: Uint8Array | null, updates: readonly Uint8Array[]): Uint8Array {
  const all = snapshot ? [snapshot, ...updates] : [...updates];
  if (all.length === 0) return Y.encodeStateAsUpdate(new Y.Doc());
  if (all.length === 1) return all[0];
  return Y.mergeUpdates(all);
}

/** The compacted state: applied to a doc and re-encoded, so deleted content is garbage-collected. */
export function compactState(snapshot: Uint8Array | null, updates: readonly Uint8Array[]): Uint8Array {
  const doc = new Y.Doc();
  try {
    Y.transact(doc, () => {
      if (snapshot) Y.applyUpdate(doc, snapshot);
      for (const u of updates) Y.applyUpdate(doc, u);
    });
    return Y.encodeStateAsUpdate(doc);
  } finally {
    doc.destroy();
  }
}
