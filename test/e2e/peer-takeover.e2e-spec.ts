import { ChorusClient } from './support/chorus-client';
import { startTestStack, type TestStack } from './support/stack';
import { peerTakeoverScenario } from './support/takeover.scenario';

// Issue 11, item 2, on the standalone product (one process, real Postgres, in-process presence and transport):
// nobody can take over another user's peer id.

let stack: TestStack;
const clients: ChorusClient[] = [];
const track = (c: ChorusClient): ChorusClient => (clients.push(c), c);

beforeAll(async () => {
  stack = await startTestStack('peer_takeover');
}, 60_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await stack?.stop();
});

it("refuses Bob's join with Alice's peer id; both seq 1 ops commit with their own text; presence keeps Alice; Alice rejoins with it", async () => {
  await peerTakeoverScenario([stack.url, stack.url], 'standalone', track);
}, 60_000);
