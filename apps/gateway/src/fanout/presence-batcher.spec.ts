import { waitFor } from '@chorus/testing';
import type { PresenceView } from '@chorus/protocol';
import { PresenceBatcher } from './presence-batcher';

const SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const view = (peer: string, head: number): PresenceView => ({
  session_id: SESSION,
  peer_id: peer,
  user_id: peer,
  display_name: peer,
  kind: 'human',
  status: 'online',
  active_file: null,
  doc_id: 'a.txt',
  selection: { anchor: head, head },
  typing: null,
  last_active_at: 0,
});

it('sends the first change at once and later ones together, latest view per peer, nothing after a drop', async () => {
  const sent: Array<Array<[string, number]>> = [];
  const batcher = new PresenceBatcher((_sid, peers) => sent.push(peers.map((p) => [p.peer_id, p.selection?.head ?? -1])), 30);
  batcher.offer(view('a', 1));
  expect(sent).toEqual([[['a', 1]]]);
  for (let i = 2; i <= 50; i++) batcher.offer(view(`p${i % 5}`, i));
  batcher.offer(view('gone', 99));
  batcher.drop(SESSION, 'gone');
  await waitFor('the trailing batch', () => sent.length === 2);
  expect(sent[1].sort()).toEqual([['p0', 50], ['p1', 46], ['p2', 47], ['p3', 48], ['p4', 49]]);
  batcher.close();
});
