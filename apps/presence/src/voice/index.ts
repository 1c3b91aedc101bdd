// Public surface of the voice domain, for the presence app's Nest wiring (and standalone).
export { VoiceService } from './voice.service';
export type { VoiceRoomStore, VoiceMember } from './voice-room.store';
export { MemoryVoiceRoomStore } from './memory-voice-room.store';
export { RedisVoiceRoomStore } from './redis-voice-room.store';
