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

/** One version of a Yjs document (docs/yjs.md "Version history"): a snapshot of its whole state. */
export interface YjsVersionInfo {
  readonly doc_id: string;
  /** Numbered per document from 1, in the order taken. */
  readonly version: number;
  /** The last durable seq the snapshot holds. */
  readonly seq: number;
  /** `compaction`: taken by the compaction job; `saved`: an explicit save (`author`, `label`). */
  readonly reason: 'compaction' | 'saved';
  readonly label: string | null;
  /** Who saved it (user id); null for the compaction job's. */
  readonly author: string | null;
  readonly created_at: string;
  /** Size of the stored state (a Yjs update), in bytes. */
  readonly bytes: number;
}

/** A version with its state: the Yjs update (base64) and the text of one Y.Text (`text_name`, by default `codemirror`). */
export interface YjsVersion extends YjsVersionInfo {
  readonly update: string;
  readonly text_name: string;
  /** The Y.Text `text_name` in this version, or null when the document has no text of that name. */
  readonly text: string | null;
}

/** A page of versions, newest first; `next_before` is the `before` of the next page (null: no more). */
export interface YjsVersionPage {
  readonly doc_id: string;
  readonly versions: YjsVersionInfo[];
  readonly next_before: number | null;
}

/** A restore, made durable as one new update (`seq`); `changed: false` when the content equalled the version already. */
export interface YjsRestored {
  readonly doc_id: string;
  readonly version: number;
  /** The seq of the restoring update, or the head seq when nothing had to change. */
  readonly seq: number;
  readonly changed: boolean;
  /** The restoring update (base64), to push to the document's subscribers; null when nothing changed. */
  readonly update: string | null;
  /** Root types left as they are because their kind differs between the version and now. */
  readonly skipped: string[];
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
  /** Version history (everyone in the session reads it): newest first, paged by `before`. */
  'yjs.versions': { req: { caller: Caller; payload: YjsDocRef & { before?: number; limit?: number } }; res: YjsVersionPage };
  'yjs.version': { req: { caller: Caller; payload: YjsDocRef & { version: number; text?: string } }; res: YjsVersion };
  /** Saves the current state as a version (editors+); `created: false` when the newest version already holds this state. */
  'yjs.save_version': { req: { caller: Caller; payload: YjsDocRef & { label?: string } }; res: YjsVersionInfo & { created: boolean } };
  /** Restores a version as a new durable update (editors+); the caller pushes `update` like any appended one. */
  'yjs.restore': { req: { caller: Caller; payload: YjsDocRef & { version: number } }; res: YjsRestored };
}
