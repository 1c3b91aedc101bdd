import { Client } from 'pg';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { waitFor } from '@chorus/testing';

/**
 * A stock y-websocket provider (npm y-websocket, unmodified), exactly as issue #17 writes it: serverUrl
 * ws://host/yjs, room `session_id/encodeURIComponent(doc_id)`, the join token as a param. Its teardown goes to
 * `cleanups` (the provider leaves its awareness and its timer to the doc: destroying the doc stops both).
 */
export function stockYjsProvider(
  gateway: string,
  room: { sessionId: string; docId: string },
  joinToken: string,
  cleanups: Array<() => void>,
  { doc = new Y.Doc(), maxBackoffTime = 500 }: { doc?: Y.Doc; maxBackoffTime?: number } = {},
): WebsocketProvider {
  const provider = new WebsocketProvider(gateway.replace('http', 'ws') + '/yjs', room.sessionId + '/' + encodeURIComponent(room.docId), doc, {
    params: { join_token: joinToken },
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    // Node has a BroadcastChannel: without this, providers of one process would sync with each other directly.
    disableBc: true,
    maxBackoffTime,
  });
  cleanups.push(() => (provider.destroy(), doc.destroy()));
  return provider;
}

export const providerSynced = (p: WebsocketProvider) => waitFor('provider synced', () => p.synced, { timeoutMs: 20_000 });

/** A Yjs document as Postgres holds it (conflict service tables): the snapshot and the log after it, merged. */
export async function yjsFromPostgres(url: string, sessionId: string, docId: string): Promise<Y.Doc> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    const head = await pg.query<{ snapshot: Buffer | null; snapshot_seq: string }>(`SELECT snapshot, snapshot_seq FROM yjs_documents WHERE session_id = $1 AND doc_id = $2`, [sessionId, docId]);
    const log = await pg.query<{ update: Buffer }>(`SELECT update FROM yjs_updates WHERE session_id = $1 AND doc_id = $2 AND seq > $3 ORDER BY seq`, [sessionId, docId, head.rows[0].snapshot_seq]);
    const doc = new Y.Doc();
    if (head.rows[0].snapshot) Y.applyUpdate(doc, head.rows[0].snapshot);
    for (const r of log.rows) Y.applyUpdate(doc, r.update);
    return doc;
  } finally {
    await pg.end();
  }
}
