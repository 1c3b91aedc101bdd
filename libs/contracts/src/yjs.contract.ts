import type { Caller } from './conflict.types';

interface YjsDocRef {
  session_id: string;
  doc_id: string;
}

/** A Yjs document's merged durable state: one Yjs update (base64) holding everything up to `seq`. */
export interface YjsState {
  readonly doc_id: string;
  /** base64 of a Yjs update (Y.mergeUpdates of the snapshot and the log after it). */
  readonly update: string;
  /** The last durable seq it contains. */
  readonly seq: number;
  /** Whether this call created the document (`yjs.open` only). */
  readonly created?: boolean;
}

/** An update made durable: its seq (the original one for a retried append of the same bytes). */
export interface YjsAppended {
  readonly doc_id: string;
  readonly seq: number;
  /** True when these exact bytes were already stored (a retry): nothing new was appended. */
  readonly duplicate: boolean;
}

/**
 * The conflict service's Yjs documents (docs/yjs.md), on the same transport client as ConflictApi. Updates travel
 * as base64 (the transport is JSON). `yjs.append` validates the update on a scratch Y.Doc before anything is stored.
 */
export interface YjsApi {
  /** Opens a Yjs document, creating it (kind `yjs`) when absent and the caller may edit; refused for a `text` document. */
  'yjs.open': { req: { caller: Caller; payload: YjsDocRef }; res: YjsState };
  'yjs.state': { req: { caller: Caller; payload: YjsDocRef }; res: YjsState };
  'yjs.append': { req: { caller: Caller; payload: YjsDocRef & { update: string } }; res: YjsAppended };
  /** The session's Yjs documents (doc ids), for listings. */
  'yjs.list': { req: { caller: Caller; payload: { session_id: string } }; res: { doc_ids: string[] } };
}
