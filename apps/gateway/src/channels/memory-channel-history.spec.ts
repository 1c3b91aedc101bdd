import { MemoryChannelHistory } from './memory-channel-history';
import { channelHistoryContract } from './test/channel-history.contract';

describe('MemoryChannelHistory', () => {
  channelHistoryContract('memory', async (limits, clock) => {
    // One process: "another gateway" is the same store.
    const store = new MemoryChannelHistory(limits, clock);
    return { store, another: async () => store, close: async () => undefined };
  });
});
