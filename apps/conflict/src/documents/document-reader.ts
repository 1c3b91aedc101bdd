import type { DataSource } from 'typeorm';
import { applyOp, summarize, transformSelection, type TextOp, type TextSelection } from '@chorus/ot';
import { ChorusError } from '@chorus/protocol';
import { readHead, readHeadText, readLock, readOps, snapshotAtOrBelow, type OpRow } from '../persistence/doc.repository';
import type { CommittedOp, ConflictOptions, DocumentState, HistoryEntry, HistoryPage, OpsPage } from './document.types';

const reload = (field: string, message: string): ChorusError => new ChorusError('RELOAD_REQUIRED', `${message}: reload the document (open_document).`, { field });

/**
 * Reads: open, catch-up, text at a past version, history, cursor transform. None of them locks anything: ops
 * and snapshots are immutable once committed, and the head row is read in one statement.
 */
export class DocumentReader {
  constructor(
    private readonly db: DataSource,
    private readonly options: ConflictOptions,
  ) {}

  /** The text at head. A document never written is version 0, "" (opening does not create it). */
  async open(sessionId: string, docId: string): Promise<DocumentState> {
    // Two reads, not one snapshot: a lock taken or dropped in between is announced by its own push, which a
    // client that has reopened receives (it joined the document room before this call).
    const [head, lock] = await Promise.all([readHeadText(this.db, sessionId, docId), readLock(this.db, sessionId, docId)]);
    return {
      doc_id: docId,
      version: head?.version ?? 0,
      content: head?.content ?? '',
      lock: lock ? { holder_id: lock.holder_id, peer_id: lock.holder_client_id, expires_at: lock.expires_at.toISOString() } : null,
    };
  }

  /**
   * Ops after `fromVersion`, in version order, at most `limit` (and `maxFetchOps`). A version ahead of head,
   * or ops no longer retained, is RELOAD_REQUIRED telling the client to reload.
   */
  async fetchOps(sessionId: string, docId: string, fromVersion: number, limit?: number): Promise<OpsPage> {
    const head = await readHead(this.db, sessionId, docId);
    const version = head?.version ?? 0;
    if (fromVersion > version) throw reload('from_version', `Version ${fromVersion} is ahead of the document (head ${version})`);
    if (head && fromVersion < head.min_version) throw reload('from_version', `Ops after version ${fromVersion} are no longer retained (oldest ${head.min_version})`);
    const max = Math.min(limit ?? this.options.maxFetchOps, this.options.maxFetchOps);
    const rows = fromVersion === version ? [] : await readOps(this.db, sessionId, docId, fromVersion, version, max);
    // Compaction between the two reads would show as a gap: never hand out a page with a hole.
    if (rows.length > 0 && rows[0].version !== fromVersion + 1) throw reload('from_version', `Ops after version ${fromVersion} are no longer retained`);
    return { doc_id: docId, ops: rows.map((r) => committedOp(docId, r)), head: version };
  }

  /** The text at `version`: the newest snapshot at or below it plus at most `snapshotEvery - 1` ops. */
  async textAt(sessionId: string, docId: string, version: number): Promise<DocumentState> {
    const head = await readHead(this.db, sessionId, docId);
    const headVersion = head?.version ?? 0;
    if (version > headVersion) throw reload('version', `Version ${version} is ahead of the document (head ${headVersion})`);
    // The head too: its text is not stored as such (checkpoint + ops), and the newest snapshot is as close.
    if (!head) return { doc_id: docId, version, content: '' };
    const snap = await snapshotAtOrBelow(this.db, sessionId, docId, version);
    if (!snap) throw new ChorusError('NOT_FOUND', `The text of version ${version} is no longer retained.`);
    const rows = await readOps(this.db, sessionId, docId, snap.version, version, version - snap.version);
    if (rows.length !== version - snap.version) throw new ChorusError('NOT_FOUND', `The text of version ${version} is no longer retained.`);
    let content = snap.content;
    for (const r of rows) {
      const applied = applyOp(content, r.op, { maxDocLength: Number.MAX_SAFE_INTEGER, maxOpChars: Number.MAX_SAFE_INTEGER, maxComponents: Number.MAX_SAFE_INTEGER });
      if (!applied.ok) throw new Error(`stored op ${r.version} of ${docId} does not apply: ${applied.error.message}`);
      content = applied.doc;
    }
    return { doc_id: docId, version, content };
  }

  /** Who changed what: ops after `fromVersion`, oldest first, with author and size. */
  async history(sessionId: string, docId: string, fromVersion: number, limit?: number): Promise<HistoryEntry[]> {
    const page = await this.fetchRows(sessionId, docId, fromVersion, limit);
    return page.map((r) => {
      const { inserted, deleted } = summarize(r.op);
      return { version: r.version, base_version: r.base_version, peer_id: r.client_id, user_id: r.user_id, seq: r.seq, created_at: r.created_at.toISOString(), inserted, deleted, op: r.op };
    });
  }

  /**
   * The client's history page (`document_history`): op summaries after `fromVersion` (default: the oldest
   * retained), oldest first. Asking for ops compaction already dropped is NOT_FOUND naming `from_version`,
   * never a silently shorter page: the client learns `min_version` from the error message and every reply.
   */
  async historyPage(sessionId: string, docId: string, fromVersion: number | undefined, limit?: number): Promise<HistoryPage> {
    const head = await readHead(this.db, sessionId, docId);
    if (!head) return { doc_id: docId, entries: [], min_version: 0, head: 0 };
    const from = fromVersion ?? head.min_version;
    if (from < head.min_version) {
      throw new ChorusError('NOT_FOUND', `History before version ${head.min_version} is no longer retained (compacted); ask from_version >= ${head.min_version}.`, { field: 'from_version' });
    }
    const max = Math.min(limit ?? this.options.maxFetchOps, this.options.maxFetchOps);
    const rows = from >= head.version ? [] : await readOps(this.db, sessionId, docId, from, head.version, max);
    // Compaction between the two reads shows as a gap: refuse it like a request from before min_version.
    if (rows.length > 0 && rows[0].version !== from + 1) throw new ChorusError('NOT_FOUND', `History after version ${from} is no longer retained (compacted).`, { field: 'from_version' });
    const entries = rows.map((r) => {
      const { inserted, deleted } = summarize(r.op);
      return { version: r.version, base_version: r.base_version, peer_id: r.client_id, user_id: r.user_id, created_at: r.created_at.getTime(), inserted, deleted };
    });
    return { doc_id: docId, entries, min_version: head.min_version, head: head.version };
  }

  /**
   * A selection made on `version`, carried to head through every op committed since (libs/ot tie rule:
   * `ownerClientId`'s own ops move it after inserted text, peers' ops leave it before).
   */
  async transformSelection(sessionId: string, docId: string, version: number, selection: TextSelection, ownerClientId: string): Promise<{ doc_id: string; version: number; selection: TextSelection }> {
    let current = selection;
    let at = version;
    for (;;) {
      const page = await this.fetchOps(sessionId, docId, at, this.options.maxFetchOps);
      current = transformSelectionThrough(current, page.ops, ownerClientId);
      if (page.ops.length > 0) at = page.ops[page.ops.length - 1].version;
      if (at >= page.head || page.ops.length === 0) return { doc_id: docId, version: at, selection: current };
      if (at - version > this.options.maxCatchUpOps) throw reload('version', `Version ${version} is too far behind`);
    }
  }

  private async fetchRows(sessionId: string, docId: string, fromVersion: number, limit?: number): Promise<OpRow[]> {
    const head = await readHead(this.db, sessionId, docId);
    if (!head) return [];
    const from = Math.max(fromVersion, head.min_version);
    return readOps(this.db, sessionId, docId, from, head.version, Math.min(limit ?? this.options.maxFetchOps, this.options.maxFetchOps));
  }
}

export function committedOp(docId: string, r: { version: number; op: TextOp; client_id: string; seq: number }): CommittedOp {
  return { doc_id: docId, version: r.version, op: r.op, peer_id: r.client_id, seq: r.seq };
}

/** Pure: a selection carried through committed ops in version order (for the gateway/presence, and clients). */
export function transformSelectionThrough(selection: TextSelection, ops: readonly Pick<CommittedOp, 'op' | 'peer_id'>[], ownerClientId: string): TextSelection {
  let current = selection;
  for (const o of ops) current = transformSelection(current, o.op, o.peer_id === ownerClientId);
  return current;
}
