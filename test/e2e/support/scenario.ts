import { waitFor } from '@chorus/testing';
import { OtClient } from '../../../apps/conflict/src/testing/ot-client';
import { randomEdit, rng } from '../../../apps/conflict/src/testing/random-edit';
import { Api } from './stack';
import { ChorusClient } from './chorus-client';

export interface People {
  readonly sessionId: string;
  readonly alice: { token: string; joinToken: () => Promise<string> };
  readonly bob: { token: string; joinToken: () => Promise<string> };
}

/** Over REST (any gateway): two users, a session owned by Alice, Bob an editor through an invite code. */
export async function setUpSession(baseUrl: string, label: string): Promise<People> {
  const api = new Api(baseUrl);
  const alice = await api.devToken(`alice-${label}`, 'Alice');
  const bob = await api.devToken(`bob-${label}`, 'Bob');
  const created = await api.request<{ session_id: string }>('POST', '/api/v1/collaboration/sessions', { token: alice, body: { name: `e2e ${label}` } });
  const sessionId = created.body.session_id;
  const invite = await api.request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${sessionId}/invite`, { token: alice, body: { role: 'editor' } });
  const redeemed = await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/invites/${invite.body.code}/redeem`, { token: bob, body: {} });
  if (redeemed.status !== 200) throw new Error(`redeem failed: ${redeemed.raw}`);
  const joinToken = (token: string) => async () => (await api.request<{ join_token: string }>('POST', `/api/v1/collaboration/sessions/${sessionId}/join`, { token, body: {} })).body.join_token;
  return { sessionId, alice: { token: alice, joinToken: joinToken(alice) }, bob: { token: bob, joinToken: joinToken(bob) } };
}

/**
 * The clients edit one document concurrently with random edits (local edits made while an op is in flight are
 * composed into the next one, as a real editor does); resolves with their final states and the ops submitted.
 */
export async function editConcurrently(
  clients: Array<{ client: ChorusClient; peerId: string }>,
  sessionId: string,
  docId: string,
  editsEach: number,
): Promise<{ states: OtClient[]; submitted: number }> {
  let submitted = 0;
  const ot = await Promise.all(
    clients.map(async ({ client, peerId }, i) => {
      const doc = await client.ok('open_document', { session_id: sessionId, doc_id: docId });
      const state: OtClient = new OtClient(peerId, docId, { version: doc.version, content: doc.content }, (submit) => {
        submitted++;
        void client.ok('submit_op', { session_id: sessionId, doc_id: docId, version: submit.version, op: submit.op, seq: submit.seq }).then((ack) => state.receiveAck(ack));
      });
      client.onPush((m) => {
        if (m.type === 'op' && m.doc_id === docId) state.receiveOp(m as never);
      });
      return { state, random: rng(1000 + i) };
    }),
  );
  await Promise.all(
    ot.map(async ({ state, random }) => {
      for (let n = 0; n < editsEach; n++) {
        state.edit(randomEdit(state.text, random));
        // Think time between keystrokes, so edits interleave with the other client's.
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 8)));
      }
    }),
  );
  await waitFor(
    'every client settled and at the same version',
    async () => {
      for (const [i, { state }] of ot.entries()) {
        if (state.hasGap()) {
          const page = await clients[i].client.ok('fetch_ops', { session_id: sessionId, doc_id: docId, from_version: state.version });
          for (const op of page.ops) state.receiveOp(op as never);
        }
      }
      const versions = new Set(ot.map(({ state }) => state.version));
      return ot.every(({ state }) => state.isSettled()) && versions.size === 1;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  return { states: ot.map(({ state }) => state), submitted };
}
