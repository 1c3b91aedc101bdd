// The Chorus client wire contract. Framework-free: a browser client can import it.
export { PROTOCOL_VERSION } from './version';
export {
  ChorusError,
  ERROR_CODES,
  errorCodeSchema,
  errorMessageSchema,
  httpStatusOf,
  isErrorCode,
  isRetryable,
  messageIdSchema,
  type ErrorCode,
  type ErrorDetails,
  type ErrorMessage,
  type MessageId,
} from './errors';
export {
  CHAT_MESSAGE_MAX_CHARS,
  chatTextSchema,
  displayNameSchema,
  joinTokenSchema,
  participantKindSchema,
  participantSchema,
  peerIdSchema,
  roleSchema,
  seqSchema,
  sessionIdSchema,
  timestampSchema,
  userIdSchema,
  type Participant,
  type ParticipantKind,
  type Role,
} from './fields';
export {
  chatMessageEventSchema,
  chatMessageRequestSchema,
  helloSchema,
  joinSchema,
  joinedSchema,
  leaveSchema,
  leftSchema,
  peerJoinedSchema,
  peerLeftSchema,
  pingSchema,
  pongSchema,
} from './messages';
export {
  CLIENT_MESSAGES,
  MAX_CLIENT_MESSAGE_BYTES,
  SERVER_MESSAGES,
  clientMessageLimits,
  isClientMessageType,
  type ClientMessage,
  type ClientMessageOf,
  type ClientMessageType,
  type ReplyOf,
  type ServerMessage,
  type ServerMessageOf,
  type ServerMessageType,
} from './registry';
export { CLIENT_EXAMPLES, SERVER_EXAMPLES } from './examples';
export { jsonByteLength, parseClientMessage, parseServerMessage, validationErrorFrom, type Parsed } from './validate';
