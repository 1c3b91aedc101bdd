import { ChorusClient } from './support/chorus-client';
import { startProcessCluster, type ProcessCluster } from './support/cluster';
import { peerTakeoverScenario } from './support/takeover.scenario';

// Issue 11, item 2, on the distributed topology: 2 gateways and 2 of each service as separate processes, real
// Postgres and Redis (Redis presence store); Alice and Bob on different gateways.

let cluster: ProcessCluster;
const clients: ChorusClient[] = [];
const track = (c: ChorusClient): ChorusClient => (clients.push(c), c);

beforeAll(async () => {
  cluster = await startProcessCluster('peer_takeover_cluster');
}, 120_000);
afterAll(async () => {
  clients.forEach((c) => c.close());
  await cluster?.stop();
});

it("refuses Bob's join with Alice's peer id across gateways; both seq 1 ops commit with their own text; presence keeps Alice; Alice rejoins with it", async () => {
  const [gw1, gw2] = cluster.gateways;
  await peerTakeoverScenario([gw1, gw2], 'cluster', track);
}, 60_000);
