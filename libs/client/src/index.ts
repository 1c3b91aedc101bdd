// @chorus/client: the Chorus SDK for browsers and Node. Framework-free; depends on socket.io-client,
// @chorus/protocol and @chorus/ot only. docs/client.md is the guide.
export { ChorusClient, type ChorusClientEvents, type ChorusClientOptions, type ChorusSocket, type ChorusTransport, type ConnectionState } from './client';
export { wsEndpoint, type WebSocketConstructor, type WebSocketEventLike, type WebSocketLike, type WsTransportOptions } from './ws-wire';
export { ChorusSession, type ChorusSessionEvents, type SessionOptions, type SessionState, type FilesPush, type VoicePush, type VoiceSignal } from './session';
export { FileSyncGuest, FileSyncHost, chunkLayout, sha256Hex, syncDiff, type DownloadOptions, type DownloadProgress, type FileHostOptions, type FileSource, type SyncDiff } from './file-sync';
export { memoryManifest, memorySource, type MemoryFile, type MemoryProject } from './file-sync-memory';
export { SessionPrompts, type SessionPromptsEvents } from './prompts';
export { SessionFiles, type SessionFilesEvents } from './files';
export { ChannelSubscription, SessionChannels, type ChannelData, type ChannelEvent, type ChannelGap, type ChannelSubscriptionEvents, type SessionChannelsEvents } from './channels';
export type { ChatMessage, DurableEvent } from './durable';
export { ChorusDocument, type ChorusDocumentEvents, type DocumentLock } from './document';
export { PresenceStore } from './presence';
export type { PresencePatch } from './presence-sender';
export { OtClient, type CommittedOp, type OtSink, type RemoteApplied } from './ot-client';
export { ChorusRest, type RestOptions } from './rest';
export { SessionAdmin, sessionUpdateOf, type SessionChanges } from './session-admin';
export { TypedEmitter, type Unsubscribe } from './emitter';
export { ClientClosedError, ConnectionLostError, RequestTimeoutError } from './errors';
export { backoffDelay, reconnectStep, type BackoffOptions, type ConnectionEnd, type ReconnectStep } from './backoff';
export { codePointLength, codePointsToUtf16, opFromUtf16Change, selectionFromUtf16, selectionToUtf16, utf16ChangesOf, utf16ToCodePoints, type Utf16Change } from './text';
export { randomId } from './random-id';
// Re-exported so that an app needs one import for the common types.
export { ChorusError, PROTOCOL_VERSION, type BuiltInChannel, type ChannelDataOf, type ErrorCode, type Participant, type PresenceView, type Selection } from '@chorus/protocol';
export { transformSelection, type TextOp, type TextOpComponent } from '@chorus/ot';
