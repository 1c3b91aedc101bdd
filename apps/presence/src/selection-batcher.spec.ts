import { waitFor } from '@chorus/testing';
import { MemoryPresenceStore, PresenceService } from './presence';
import { SelectionBatcher } from './selection-batcher';

const SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';

async function setUp() {
  const service = new PresenceService(new MemoryPresenceStore());
  for (const [peer, at] of [['p1', 5], ['p2', 10]] as const) {
    await service.join({ session_id: SESSION, peer_id: peer, user_id: peer, display_name: peer, kind: 'human', node_id: 'n', doc_id: 'a.txt', selection: { anchor: at, head: at } });
  }
  return service;
}

const selections = async (service: PresenceService) => Object.fromEntries((await service.who(SESSION)).map((v) => [v.peer_id, v.selection]));

it('moves selections through a burst of ops exactly as op by op, with each author’s tie rule', async () => {
  const ops = [
    { op: [5, 'xx'], author: 'p1' },
    { op: [10, 'y'], author: 'p2' },
    { op: [{ d: 3 }], author: 'p2' },
  ];
  const oneByOne = await setUp();
  for (const { op, author } of ops) await oneByOne.transformSelections(SESSION, 'a.txt', op, author);

  const batched = await setUp();
  const batcher = new SelectionBatcher(batched, 20);
  await Promise.all(ops.map(({ op, author }) => batcher.add(SESSION, 'a.txt', op, author)));
  await waitFor('the batch to apply', async () => JSON.stringify(await selections(batched)) === JSON.stringify(await selections(oneByOne)));
  // p1's own insert at its caret moves it after the text; p2's caret at 10 was pushed by p1's insert.
  expect(await selections(batched)).toEqual({ p1: { anchor: 4, head: 4 }, p2: { anchor: 10, head: 10 } });
});
