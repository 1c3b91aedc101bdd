import { MemoryFanout } from './memory.fanout';
import { fanoutContract } from './test/fanout.contract';

fanoutContract('memory', async () => {
  const shared = new MemoryFanout();
  return { a: shared, b: shared, close: () => shared.close() };
});
