// Public surface of the presence domain, for the presence app's Nest wiring (and standalone).
export { PresenceService, DEFAULT_PRESENCE_OPTIONS, type PresenceServiceOptions, type JoinPresenceInput, type PresenceUpdateInput } from './presence.service';
export type { PresenceEvent, PresenceUpdateEvent, TypingEvent } from './presence.events';
export type { PresenceStore, ExpiredPeer, HeartbeatResult, SelectionTransform, SelectionTransformResult } from './presence.store';
export { RedisPresenceStore, DEFAULT_RETENTION_MS, type RedisPresenceStoreOptions } from './redis-presence.store';
export { MemoryPresenceStore, type MemoryPresenceStoreOptions } from './memory-presence.store';
export { deriveStatus, toView, systemClock } from './presence.types';
export type { Clock, ExplicitStatus, PeerRef, PresenceJoin, PresenceKind, PresencePatch, PresenceState, PresenceStatus, PresenceView, Selection, TypingState } from './presence.types';
export { MemoryExpiryOutbox, RedisExpiryOutbox, DEFAULT_EXPIRY_RETRY_MS, type ExpiryOutbox, type PendingExpiry } from './expiry-outbox';
