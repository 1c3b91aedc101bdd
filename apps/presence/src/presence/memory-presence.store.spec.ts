import { MemoryPresenceStore } from './memory-presence.store';
import { presenceStoreContract } from './test/presence.contract';

describe('MemoryPresenceStore', () => {
  presenceStoreContract(async (clock) => {
    // One store is the shared state of every "replica" in one process.
    const store = new MemoryPresenceStore({ clock });
    return { store, another: async () => store, close: async () => undefined };
  });
});
