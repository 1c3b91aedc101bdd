import type { z } from 'zod';
import { channelEventSchema, publishSchema, publishedSchema, subscribeSchema, subscribedSchema, unsubscribeSchema, unsubscribedSchema } from './channels';
import { disconnectNoticeSchema } from './disconnect';
import { errorMessageSchema } from './errors';
import {
  chatDeleteSchema,
  chatEditSchema,
  chatMessageEventSchema,
  chatMessageRequestSchema,
  messageDeleteSchema,
  messageUpdateSchema,
  helloSchema,
  joinSchema,
  joinedSchema,
  leaveSchema,
  leftSchema,
  peerJoinedSchema,
  peerLeftSchema,
  pingSchema,
  pongSchema,
  reauthSchema,
  reauthedSchema,
} from './messages';
import {
  conflictDetectedSchema,
  documentAtSchema,
  documentHistorySchema,
  documentSchema,
  fetchOpsSchema,
  fileLockedSchema,
  fileUnlockedSchema,
  historySchema,
  lockFileSchema,
  opAckSchema,
  opEventSchema,
  openDocumentSchema,
  opsSchema,
  presenceBatchSchema,
  presenceLeftSchema,
  presenceListSchema,
  presenceUpdateEventSchema,
  presenceUpdateRequestSchema,
  sessionEventSchema,
  stopTypingSchema,
  submitOpSchema,
  typingSchema,
  typingStartSchema,
  typingStopSchema,
  unlockFileSchema,
  whoSchema,
} from './messages-live';
import {
  agentOutputAckSchema,
  agentOutputEventSchema,
  agentOutputSoFarSchema,
  promptAssignedSchema,
  agentOutputRequestSchema,
  agentStatusEventSchema,
  agentStatusRequestSchema,
  promptCancelSchema,
  promptCancelledSchema,
  promptClaimSchema,
  promptClaimedSchema,
  promptCompletedSchema,
  promptDoneSchema,
  promptQueuedSchema,
  promptSubmitSchema,
  queueUpdatedSchema,
} from './messages-agents';
import {
  voiceAnswerEventSchema,
  voiceAnswerSchema,
  voiceIceEventSchema,
  voiceIceSchema,
  voiceJoinSchema,
  voiceJoinedSchema,
  voiceLeaveSchema,
  voiceLeftSchema,
  voiceMemberUpdatedSchema,
  voiceMuteSchema,
  voiceOfferEventSchema,
  voiceOfferSchema,
  voiceRelayedSchema,
  voiceSpeakingEventSchema,
  voiceSpeakingRequestSchema,
  voiceUnmuteSchema,
  voiceUserJoinedSchema,
  voiceUserLeftSchema,
} from './messages-voice';
import { yjsLeaveSchema, yjsLeftSchema, yjsMessageSchema, yjsSyncReplySchema, yjsSyncSchema } from './messages-yjs';
import {
  fileDataEventSchema,
  fileDataRequestSchema,
  fileHostEventSchema,
  fileManifestEventSchema,
  fileManifestRequestSchema,
  fileRelayedSchema,
  filesChunkEventSchema,
  filesChunkRequestSchema,
  requestFileManifestEventSchema,
  requestFileManifestSchema,
  requestFilesEventSchema,
  requestFilesSchema,
  shareProjectSchema,
  unshareProjectSchema,
} from './messages-filesync';
import { closeDocumentSchema, conflictResolvedSchema, documentClosedSchema, resolveConflictSchema } from './messages-files';

/**
 * Every message a client may send: its schema, the largest payload accepted for it (bytes of JSON), and the
 * `type` of the successful reply its ack receives (failures always reply with `error`).
 */
export const CLIENT_MESSAGES = {
  join: { schema: joinSchema, maxBytes: 8 * 1024, reply: 'joined' },
  leave: { schema: leaveSchema, maxBytes: 1024, reply: 'left' },
  chat_message: { schema: chatMessageRequestSchema, maxBytes: 40 * 1024, reply: 'chat_message' },
  chat_edit: { schema: chatEditSchema, maxBytes: 40 * 1024, reply: 'message_update' },
  chat_delete: { schema: chatDeleteSchema, maxBytes: 1024, reply: 'message_delete' },
  ping: { schema: pingSchema, maxBytes: 256, reply: 'pong' },
  reauth: { schema: reauthSchema, maxBytes: 8 * 1024, reply: 'reauthed' },
  presence_update: { schema: presenceUpdateRequestSchema, maxBytes: 4 * 1024, reply: 'presence_update' },
  who: { schema: whoSchema, maxBytes: 512, reply: 'presence_list' },
  typing: { schema: typingSchema, maxBytes: 2 * 1024, reply: 'typing_start' },
  stop_typing: { schema: stopTypingSchema, maxBytes: 512, reply: 'typing_stop' },
  open_document: { schema: openDocumentSchema, maxBytes: 2 * 1024, reply: 'document' },
  submit_op: { schema: submitOpSchema, maxBytes: 256 * 1024, reply: 'op_ack' },
  fetch_ops: { schema: fetchOpsSchema, maxBytes: 2 * 1024, reply: 'ops' },
  document_history: { schema: documentHistorySchema, maxBytes: 2 * 1024, reply: 'history' },
  document_at: { schema: documentAtSchema, maxBytes: 2 * 1024, reply: 'document' },
  lock_file: { schema: lockFileSchema, maxBytes: 2 * 1024, reply: 'file_locked' },
  unlock_file: { schema: unlockFileSchema, maxBytes: 2 * 1024, reply: 'file_unlocked' },
  close_document: { schema: closeDocumentSchema, maxBytes: 2 * 1024, reply: 'document_closed' },
  resolve_conflict: { schema: resolveConflictSchema, maxBytes: 256 * 1024, reply: 'conflict_resolved' },
  prompt_submit: { schema: promptSubmitSchema, maxBytes: 160 * 1024, reply: 'prompt_queued' },
  prompt_cancel: { schema: promptCancelSchema, maxBytes: 1024, reply: 'prompt_cancelled' },
  prompt_claim: { schema: promptClaimSchema, maxBytes: 512, reply: 'prompt_claimed' },
  prompt_done: { schema: promptDoneSchema, maxBytes: 1024, reply: 'prompt_completed' },
  agent_status: { schema: agentStatusRequestSchema, maxBytes: 4 * 1024, reply: 'agent_status' },
  agent_output: { schema: agentOutputRequestSchema, maxBytes: 160 * 1024, reply: 'agent_output_ack' },
  subscribe: { schema: subscribeSchema, maxBytes: 1024, reply: 'subscribed' },
  unsubscribe: { schema: unsubscribeSchema, maxBytes: 1024, reply: 'unsubscribed' },
  /** The limit of a channel event's `data` (custom channels carry any JSON up to it). */
  publish: { schema: publishSchema, maxBytes: 64 * 1024, reply: 'published' },
  voice_join: { schema: voiceJoinSchema, maxBytes: 1024, reply: 'voice_joined' },
  voice_leave: { schema: voiceLeaveSchema, maxBytes: 512, reply: 'voice_left' },
  // SDP is capped at 16,000 characters (up to 4 bytes each as JSON text, escapes aside).
  voice_offer: { schema: voiceOfferSchema, maxBytes: 64 * 1024, reply: 'voice_relayed' },
  voice_answer: { schema: voiceAnswerSchema, maxBytes: 64 * 1024, reply: 'voice_relayed' },
  voice_ice: { schema: voiceIceSchema, maxBytes: 4 * 1024, reply: 'voice_relayed' },
  voice_mute: { schema: voiceMuteSchema, maxBytes: 512, reply: 'voice_member_updated' },
  voice_unmute: { schema: voiceUnmuteSchema, maxBytes: 512, reply: 'voice_member_updated' },
  voice_speaking: { schema: voiceSpeakingRequestSchema, maxBytes: 512, reply: 'voice_speaking' },
  // A y-protocols message as base64: the largest update (YJS_LIMITS.maxUpdateBytes) and the envelope.
  yjs_sync: { schema: yjsSyncSchema, maxBytes: 352 * 1024, reply: 'yjs_sync_reply' },
  yjs_leave: { schema: yjsLeaveSchema, maxBytes: 2 * 1024, reply: 'yjs_left' },
  // File sync (messages-files.ts): manifests and seed-format chunks fill one message up to the transport ceiling.
  share_project: { schema: shareProjectSchema, maxBytes: 512, reply: 'file_host' },
  unshare_project: { schema: unshareProjectSchema, maxBytes: 512, reply: 'file_host' },
  request_file_manifest: { schema: requestFileManifestSchema, maxBytes: 1024, reply: 'file_relayed' },
  request_files: { schema: requestFilesSchema, maxBytes: 1_000_000, reply: 'file_relayed' },
  file_manifest: { schema: fileManifestRequestSchema, maxBytes: 1_000_000, reply: 'file_relayed' },
  files_chunk: { schema: filesChunkRequestSchema, maxBytes: 1_000_000, reply: 'file_relayed' },
  // The header's JSON; the binary beside it is bounded by the chunk size (FILE_CHUNK_BYTES.max).
  file_data: { schema: fileDataRequestSchema, maxBytes: 256 * 1024, reply: 'file_relayed' },
} as const;

/** Every message the server sends, as an ack reply or as a push (an event named by its `type`). */
export const SERVER_MESSAGES = {
  hello: helloSchema,
  joined: joinedSchema,
  left: leftSchema,
  peer_joined: peerJoinedSchema,
  peer_left: peerLeftSchema,
  chat_message: chatMessageEventSchema,
  message_update: messageUpdateSchema,
  message_delete: messageDeleteSchema,
  pong: pongSchema,
  reauthed: reauthedSchema,
  error: errorMessageSchema,
  session_event: sessionEventSchema,
  presence_update: presenceUpdateEventSchema,
  presence_list: presenceListSchema,
  presence_batch: presenceBatchSchema,
  presence_left: presenceLeftSchema,
  typing_start: typingStartSchema,
  typing_stop: typingStopSchema,
  document: documentSchema,
  op_ack: opAckSchema,
  op: opEventSchema,
  ops: opsSchema,
  history: historySchema,
  file_locked: fileLockedSchema,
  file_unlocked: fileUnlockedSchema,
  conflict_detected: conflictDetectedSchema,
  document_closed: documentClosedSchema,
  conflict_resolved: conflictResolvedSchema,
  disconnect_notice: disconnectNoticeSchema,
  prompt_queued: promptQueuedSchema,
  prompt_cancelled: promptCancelledSchema,
  prompt_claimed: promptClaimedSchema,
  prompt_completed: promptCompletedSchema,
  queue_updated: queueUpdatedSchema,
  agent_status: agentStatusEventSchema,
  agent_output: agentOutputEventSchema,
  agent_output_ack: agentOutputAckSchema,
  agent_output_so_far: agentOutputSoFarSchema,
  prompt_assigned: promptAssignedSchema,
  subscribed: subscribedSchema,
  unsubscribed: unsubscribedSchema,
  published: publishedSchema,
  event: channelEventSchema,
  voice_joined: voiceJoinedSchema,
  voice_left: voiceLeftSchema,
  voice_user_joined: voiceUserJoinedSchema,
  voice_user_left: voiceUserLeftSchema,
  voice_member_updated: voiceMemberUpdatedSchema,
  voice_speaking: voiceSpeakingEventSchema,
  voice_offer: voiceOfferEventSchema,
  voice_answer: voiceAnswerEventSchema,
  voice_ice: voiceIceEventSchema,
  voice_relayed: voiceRelayedSchema,
  yjs_sync_reply: yjsSyncReplySchema,
  yjs_left: yjsLeftSchema,
  yjs_message: yjsMessageSchema,
  request_file_manifest: requestFileManifestEventSchema,
  request_files: requestFilesEventSchema,
  file_manifest: fileManifestEventSchema,
  files_chunk: filesChunkEventSchema,
  file_data: fileDataEventSchema,
  file_relayed: fileRelayedSchema,
  file_host: fileHostEventSchema,
} as const;

export type ClientMessageType = keyof typeof CLIENT_MESSAGES;
export type ServerMessageType = keyof typeof SERVER_MESSAGES;
export type ClientMessageOf<T extends ClientMessageType> = z.infer<(typeof CLIENT_MESSAGES)[T]['schema']>;
export type ServerMessageOf<T extends ServerMessageType> = z.infer<(typeof SERVER_MESSAGES)[T]>;
export type ClientMessage = { [T in ClientMessageType]: ClientMessageOf<T> }[ClientMessageType];
export type ServerMessage = { [T in ServerMessageType]: ServerMessageOf<T> }[ServerMessageType];
/** The successful reply a request of type T is acked with. */
export type ReplyOf<T extends ClientMessageType> = ServerMessageOf<(typeof CLIENT_MESSAGES)[T]['reply']>;

/** The largest inbound message of any kind. */
export const MAX_CLIENT_MESSAGE_BYTES = Math.max(...Object.values(CLIENT_MESSAGES).map((m) => m.maxBytes));

/**
 * The transport ceiling (Socket.IO `maxHttpBufferSize`, the WebSocket frame limit): a message up to this size
 * is read and acked — PAYLOAD_TOO_LARGE when over its kind's limit — so the connection survives a too-large
 * message; above it the server cannot read the frame and closes the connection (WebSocket close code 1009).
 * Four times the largest per-kind limit, so an honest client never gets near it.
 */
export const MAX_FRAME_BYTES = 1024 * 1024;

export function isClientMessageType(type: unknown): type is ClientMessageType {
  return typeof type === 'string' && Object.prototype.hasOwnProperty.call(CLIENT_MESSAGES, type);
}

/** Limits announced to clients in `hello`. */
export function clientMessageLimits(): Record<string, number> {
  return Object.fromEntries(Object.entries(CLIENT_MESSAGES).map(([type, m]) => [type, m.maxBytes]));
}
