import { MemoryFanout } from './memory.fanout';
import { fanoutContract, testCodec, type Drops } from './test/fanout.contract';

fanoutContract('memory', async () => {
  const drops: Drops = [];
  const shared = new MemoryFanout(testCodec, (reason, sessionId) => drops.push({ reason, sessionId }));
  return { a: shared, b: shared, drops, close: () => shared.close() };
});
