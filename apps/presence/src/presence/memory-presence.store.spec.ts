import { MemoryExpiryOutbox } from './expiry-outbox';
import { MemoryPresenceStore } from './memory-presence.store';
import { presenceStoreContract } from './test/presence.contract';

describe('MemoryPresenceStore', () => {
  presenceStoreContract(async (clock) => {
    // One store is the shared state of every "replica" in one process.
    const outbox = new MemoryExpiryOutbox(2_000, clock);
    const store = new MemoryPresenceStore({ clock, outbox });
    return { store, outbox, another: async () => store, close: async () => undefined };
  });
});
