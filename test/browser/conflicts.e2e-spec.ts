import { ChorusClient } from '../e2e/support/chorus-client';
import { setUpSession } from '../e2e/support/scenario';
import { Api } from '../e2e/support/stack';
import { sessionReady, signIn, waitForApp } from './support/app';
import { appCluster } from './support/app-cluster';

// Issue #19 in the browser app: an open conflict (two editors replaced the same word at once, on two gateways)
// is shown side by side — mine, theirs, an editable merge — with the three choices; "Use merged" resolves it: the
// panel empties, the editor shows the merged text, and both editors hear `conflict_resolved`. Real Chromium.

const app = appCluster('browser_conflicts');

it('shows an open conflict side by side and resolves it with an edited merge', async () => {
  const [g1, g2] = app.cluster.gateways;
  const people = await setUpSession(g1, 'bconf');
  const session_id = people.sessionId;
  const alice = await ChorusClient.connect(g1, people.alice.token);
  const bob = await ChorusClient.connect(g2, people.bob.token);
  app.keep(alice, bob);
  await alice.ok('join', { session_id, peer_id: 'alice-raw', join_token: await people.alice.joinToken() });
  await bob.ok('join', { session_id, peer_id: 'bob-raw', join_token: await people.bob.joinToken() });
  const doc = { session_id, doc_id: 'main.txt' };
  await alice.ok('submit_op', { ...doc, version: 0, op: ['hello world!'], seq: 1 });
  await bob.ok('submit_op', { ...doc, version: 1, op: [6, { d: 5 }, 'there'], seq: 1 });
  await alice.ok('submit_op', { ...doc, version: 1, op: [6, { d: 5 }, 'earth'], seq: 2 });
  await bob.waitForPush('conflict_detected', (c) => c.doc_id === 'main.txt');

  const invite = await new Api(g1).request<{ code: string }>('POST', `/api/v1/collaboration/sessions/${session_id}/invite`, { token: people.alice.token, body: { role: 'editor' } });
  const carol = await app.person();
  await signIn(carol.page, `${g2}/join/${invite.body.code}`, [g2, g1], 'Carol resolves');
  await sessionReady(carol.page);
  const item = carol.page.getByTestId('conflict');
  await item.waitFor();
  expect(await item.getByTestId('conflict-mine').textContent()).toBe('earth');
  expect(await item.getByTestId('conflict-theirs').textContent()).toBe('there');
  await item.getByTestId('conflict-merged').fill('whole world');
  await item.getByTestId('use-merged').click();

  await item.waitFor({ state: 'detached' });
  await waitForApp(carol.page, 'the editor to show the merge', (s) => s.editorText === 'hello whole world!' && s.pending === false);
  for (const c of [alice, bob]) expect(await c.waitForPush('conflict_resolved', (r) => r.doc_id === 'main.txt')).toMatchObject({ strategy: 'merged', text: 'whole world' });
  expect((await alice.ok('open_document', doc)).content).toBe('hello whole world!');
}, 180_000);
