import type { PresenceView } from '@chorus/protocol';
import { IdleWatch } from './idle-watch';

// The idle watch of one gateway: a transition to or from `idle` of a peer this node holds is offered once; other
// changes and other nodes' peers are not; a peer first seen idle is (its join said online); a failed read is
// reported and changes nothing.

const S = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const view = (peer_id: string, status: PresenceView['status']): PresenceView => ({
  session_id: S,
  peer_id,
  user_id: `u-${peer_id}`,
  display_name: peer_id,
  kind: 'human',
  status,
  active_file: null,
  doc_id: null,
  selection: null,
  typing: null,
  last_active_at: 0,
});

it('offers online → idle and idle → online of local peers, once each', async () => {
  const watch = new IdleWatch();
  const offered: PresenceView[] = [];
  const failed: string[] = [];
  const local = [{ session_id: S, peer_id: 'a' }];
  let now: PresenceView[] = [view('a', 'online'), view('remote', 'online')];
  const round = () => watch.check(local, async () => now, (v) => offered.push(v), (s) => failed.push(s));

  await round();
  expect(offered).toEqual([]);
  now = [view('a', 'idle'), view('remote', 'idle')];
  await round();
  await round();
  expect(offered.map((v) => [v.peer_id, v.status])).toEqual([['a', 'idle']]);
  now = [view('a', 'away')];
  await round();
  now = [view('a', 'online')];
  await round();
  // idle → away is a transition from idle; away → online is not one involving idle.
  expect(offered.map((v) => v.status)).toEqual(['idle', 'away']);
  now = [view('a', 'idle')];
  await round();
  now = [view('a', 'online')];
  await round();
  expect(offered.map((v) => v.status)).toEqual(['idle', 'away', 'idle', 'online']);
  expect(failed).toEqual([]);
});

it('a failed read is reported and keeps what was known; a peer no longer held is forgotten', async () => {
  const watch = new IdleWatch();
  const offered: PresenceView[] = [];
  const failed: string[] = [];
  let fail = false;
  let now = [view('a', 'online')];
  const round = (peers = [{ session_id: S, peer_id: 'a' }]) =>
    watch.check(
      peers,
      async () => {
        if (fail) throw new Error('presence down');
        return now;
      },
      (v) => offered.push(v),
      (s) => failed.push(s),
    );
  await round();
  fail = true;
  await round();
  expect(failed).toEqual([S]);
  expect(watch.readFailures).toBe(1);
  fail = false;
  now = [view('a', 'idle')];
  await round();
  expect(offered.map((v) => v.status)).toEqual(['idle']);
  await round([]);
  now = [view('a', 'online')];
  await round();
  // Forgotten while not held: coming back is a first sighting again.
  expect(offered.map((v) => v.status)).toEqual(['idle']);
});

it('a peer already idle when first seen is offered as idle (its join was pushed as online)', async () => {
  const watch = new IdleWatch();
  const offered: PresenceView[] = [];
  const round = (views: PresenceView[]) => watch.check([{ session_id: S, peer_id: 'a' }, { session_id: S, peer_id: 'b' }], async () => views, (v) => offered.push(v), () => undefined);
  await round([view('a', 'idle'), view('b', 'away')]);
  await round([view('a', 'idle'), view('b', 'away')]);
  expect(offered.map((v) => [v.peer_id, v.status])).toEqual([['a', 'idle']]);
});
