export { type AgentApi, type AgentOutputBody } from './agents.contract';
export { documentKey, type ConflictApi } from './conflict.contract';
export type { Caller, CommittedOp, ConflictDetected, ConflictOverlap, DocumentState, FileLocked, FileUnlocked, HistoryEntry, HistoryPage, OpAck, OpsPage, SessionLocks, SubmitResult } from './conflict.types';
export { outboundCodec, type Audience, type OutboundEvent, type OutboundMessage, type OutboundPush } from './outbound';
export { type PresenceApi, type PresenceEvent, type PresencePatch } from './presence.contract';
export { type MembershipChange, type SessionApi, type SessionEventOf, type SessionPattern, type SessionStreamEvent } from './session.contract';
export { type AuditRecord, type SessionAdminApi } from './session-admin.contract';
export { serviceErrorToChorus } from './service-error';
export { TypedClient } from './typed-client';
