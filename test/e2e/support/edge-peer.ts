import type { ServerMessage } from '@chorus/protocol';
import { connected } from './edge-socket';
import type { EdgeContext } from './edge-table';
import { Api } from './stack';

let seq = 0;

/**
 * The edge rows' second participant (for conflicts, which need two peers): `peerEdit` commits one op as `person`
 * over a short-lived socket of its own, `conflicts` lists a document's open conflicts over REST.
 */
export function edgePeer(url: string, person: { token: string; joinToken(): Promise<string> }, sessionId: string, peerId: string): Pick<EdgeContext, 'peerEdit' | 'conflicts'> {
  return {
    async peerEdit(docId, version, op) {
      const socket = await connected(url, person.token);
      try {
        const joined = (await socket.timeout(10_000).emitWithAck('join', { session_id: sessionId, peer_id: peerId, join_token: await person.joinToken() })) as ServerMessage;
        if (joined.type !== 'joined') throw new Error(`peer join failed: ${JSON.stringify(joined)}`);
        const acked = (await socket.timeout(10_000).emitWithAck('submit_op', { session_id: sessionId, doc_id: docId, version, op, seq: ++seq })) as ServerMessage;
        if (acked.type !== 'op_ack') throw new Error(`peer submit_op failed: ${JSON.stringify(acked)}`);
      } finally {
        socket.close();
      }
    },
    async conflicts(docId) {
      const res = await new Api(url).request<{ conflicts: Array<{ conflict_id: string }> }>('GET', `/api/v1/collaboration/sessions/${sessionId}/conflicts?state=open&doc_id=${encodeURIComponent(docId)}`, { token: person.token });
      if (res.status !== 200) throw new Error(`conflicts list failed: ${res.status} ${res.raw}`);
      return res.body.conflicts.map((c) => c.conflict_id);
    },
  };
}
