import * as Y from 'yjs';

/**
 * Whether `update` (a client's sync step 2, the answer to the server's step 1) holds nothing the server has not:
 * no structs beyond the server's state vector, no deletion outside the delete set of the server's own step 2 (Yjs
 * puts the sender's whole delete set in every step 2, so that one is the server's whole delete set).
 *
 * Why it matters (docs/yjs.md "Roles"): on a document with deletions the answer is never empty, even when the
 * client has nothing new; a viewer's would be refused PERMISSION_DENIED and its sync never complete.
 */
export function addsNothing(update: Uint8Array, serverStep2: Uint8Array, serverStateVector: Uint8Array): boolean {
  if (Y.parseUpdateMeta(update).to.size > 0) return false;
  const server = new Y.Snapshot(Y.mergeDeleteSets([Y.decodeUpdate(serverStep2).ds]), Y.decodeStateVector(serverStateVector));
  return Y.snapshotContainsUpdate(server, update);
}
