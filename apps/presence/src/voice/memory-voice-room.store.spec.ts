import { MemoryVoiceRoomStore } from './memory-voice-room.store';
import { voiceRoomStoreContract } from './test/voice-room.contract';

describe('MemoryVoiceRoomStore', () => {
  voiceRoomStoreContract(async () => {
    // One store is the shared state of every "replica" in one process.
    const store = new MemoryVoiceRoomStore();
    return { store, another: async () => store, close: async () => undefined };
  });
});
