// Public API of @chorus/transport (explicit exports; see docs/transport.md).
export { BaseTransportClient } from './base.client';
export { BaseTransportServer, type TransportStatus } from './base.server';
export { ordered, type OrderedPayload, type OrderingKeys, type ReplyEnvelope, type RequestEnvelope } from './envelope';
export { MemoryIdempotencyStore, RedisIdempotencyStore, type IdempotencyStore } from './idempotency';
export { InProcessBroker, type InProcessBrokerOptions } from './in-process/broker';
export { InProcessClient, type InProcessClientOptions } from './in-process/in-process.client';
export { IN_PROCESS_TRANSPORT, InProcessServer, type InProcessServerOptions } from './in-process/in-process.server';
export { STREAMS_DEFAULTS, type KeyedMode, type RedisStreamsClientOptions, type RedisStreamsServerOptions, type StreamsTransportOptions } from './options';
export { StreamKeys } from './redis/keys';
export { RedisStreamsClient } from './redis/streams.client';
export { REDIS_STREAMS_TRANSPORT, RedisStreamsServer } from './redis/streams.server';
export { TransportContext, type MessageInfo } from './transport.context';
export { TransportError, TransportErrorCode, toErrorBody, type ErrorBody } from './transport.error';
export { TransportExceptionFilter } from './transport-exception.filter';
export { type StreamBacklog, type TransportBacklog, type TransportObserver } from './observer';
export { endSpan, startSendSpan, withReceiveSpan, type TraceCarrier } from './tracing';
