import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What operators watch on a gateway: connections, traffic by message type, ack latency, limits, transport. */
export class GatewayMetrics {
  readonly connections: Gauge;
  readonly messagesIn: Counter<'type'>;
  readonly messagesOut: Counter<'type'>;
  readonly framesOut: Counter<'type'>;
  readonly pushFailures: Counter<'type'>;
  readonly presenceEmitFailures: Counter;
  readonly agentLeaseRenewFailures: Counter;
  readonly agentDispatchFailures: Counter;
  readonly agentReleaseFailures: Counter;
  readonly agentActivityFailures: Counter<'kind'>;
  readonly sseStreamsRefused: Counter;
  readonly ackLatency: Histogram<'type' | 'outcome'>;
  readonly rateLimited: Counter<'kind'>;
  readonly handshakesRefused: Counter<'reason'>;
  readonly refused: Counter<'type' | 'code'>;
  readonly transportLatency: Histogram<'pattern'>;
  readonly sessions: Gauge;
  readonly joinLocksUnavailable: Counter;
  readonly channelGapReads: Counter;
  readonly channelFailures: Counter;
  readonly wsTransportErrors: Counter;
  readonly wsMissedPongs: Counter;
  readonly tokensExpired: Counter<'transport'>;
  readonly reauthenticated: Counter;
  readonly fileBytesRelayed: Counter<'format'>;
  readonly fileHostUnavailable: Counter;
  readonly fileSyncWithheld: Counter<'at'>;
  readonly auditFailures: Counter;
  readonly restRefusalsCollapsed: Counter;

  constructor(registry: Registry) {
    this.connections = new Gauge({ name: 'chorus_ws_connections', help: 'Open WebSocket connections on this gateway', registers: [registry] });
    this.sessions = new Gauge({ name: 'chorus_ws_sessions', help: 'Sessions with members on this gateway', registers: [registry] });
    this.fileHostUnavailable = new Counter({ name: 'chorus_file_host_unavailable_total', help: 'joined / who answered without file_host: the file sync store did not answer', registers: [registry] });
    this.fileSyncWithheld = new Counter({ name: 'chorus_file_sync_withheld_total', help: 'Files withheld from a guest by the path rules: manifest entries, and paths of chunks dropped (at)', labelNames: ['at'], registers: [registry] });
    this.fileBytesRelayed = new Counter({ name: 'chorus_file_sync_bytes_total', help: 'File content bytes relayed host to guest, by format (seed, compact)', labelNames: ['format'], registers: [registry] });
    this.messagesIn = new Counter({ name: 'chorus_ws_messages_in_total', help: 'Client messages received, by type', labelNames: ['type'], registers: [registry] });
    this.messagesOut = new Counter({ name: 'chorus_ws_messages_out_total', help: 'Server messages sent (acks and pushes), by type', labelNames: ['type'], registers: [registry] });
    this.framesOut = new Counter({
      name: 'chorus_ws_frames_out_total',
      help: 'Frames written to sockets by the local hub (one per socket a push or durable event reached), by type',
      labelNames: ['type'],
      registers: [registry],
    });
    this.pushFailures = new Counter({
      name: 'chorus_ws_push_failures_total',
      help: 'Pushes this gateway could not publish to the fan-out (Redis down): those members miss them until they resync',
      labelNames: ['type'],
      registers: [registry],
    });
    this.agentDispatchFailures = new Counter({
      name: 'chorus_agent_dispatch_failures_total',
      help: 'Claims for waiting agents, and texts so far for joiners or of partial chunks, that failed (the agent may still claim; live chunks still come)',
      registers: [registry],
    });
    this.agentLeaseRenewFailures = new Counter({
      name: 'chorus_agent_lease_renew_failures_total',
      help: 'Agent reports whose lease renewal failed (the next report renews it, or the lease lapses and the prompt goes back)',
      registers: [registry],
    });
    this.agentActivityFailures = new Counter({
      name: 'chorus_agent_activity_failures_total',
      help: 'Agent status reports and committed ops of agents not recorded for the activity feed (each logged), by kind (status, edit)',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.sseStreamsRefused = new Counter({
      name: 'chorus_sse_streams_refused_total',
      help: 'SSE streams refused with HTTP 429 because the user already held SSE_STREAMS_PER_USER open streams across the gateways',
      registers: [registry],
    });
    this.agentReleaseFailures = new Counter({
      name: 'chorus_agent_release_failures_total',
      help: 'Agent disconnects whose prompts could not be given back at once (the lease sweep gives them back)',
      registers: [registry],
    });
    this.presenceEmitFailures = new Counter({
      name: 'chorus_presence_op_emit_failures_total',
      help: 'Committed ops this gateway could not hand to presence (cursors catch up from the op log at the next op)',
      registers: [registry],
    });
    this.ackLatency = new Histogram({
      name: 'chorus_ws_ack_seconds',
      help: 'Time from receiving a request to acking it, by type and outcome (ok | error code)',
      labelNames: ['type', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.tokensExpired = new Counter({ name: 'chorus_ws_token_expired_total', help: 'Connections closed with reauthenticate (4002): the access token expired without a reauth', labelNames: ['transport'], registers: [registry] });
    this.auditFailures = new Counter({ name: 'chorus_ws_audit_failures_total', help: 'Audit events (refused socket and REST actions, lock changes) this gateway could not hand to the session service (each logged)', registers: [registry] });
    this.restRefusalsCollapsed = new Counter({
      name: 'chorus_http_audit_collapsed_total',
      help: 'REST refusals not recorded again: identical to one this gateway recorded within the collapse window (rest-refusals.ts)',
      registers: [registry],
    });
    this.reauthenticated = new Counter({ name: 'chorus_ws_reauth_total', help: 'Connections that moved their token expiry with a fresh access token (reauth)', registers: [registry] });
    this.rateLimited = new Counter({ name: 'chorus_ws_rate_limited_total', help: 'Requests refused with RATE_LIMITED, by kind', labelNames: ['kind'], registers: [registry] });
    this.handshakesRefused = new Counter({ name: 'chorus_ws_handshakes_refused_total', help: 'Handshakes refused (Socket.IO and /ws), by reason: origin, or the disconnect name of the refusal (unauthenticated, connection_limit, ...)', labelNames: ['reason'], registers: [registry] });
    this.refused = new Counter({
      name: 'chorus_ws_refused_total',
      help: 'Requests acked with an error, by type and code: client mistakes are counted here, never logged as errors',
      labelNames: ['type', 'code'],
      registers: [registry],
    });
    this.joinLocksUnavailable = new Counter({
      name: 'chorus_ws_join_locks_unavailable_total',
      help: 'Joins answered without `locks` because the conflict service did not list them (the client must reopen documents to learn their locks)',
      registers: [registry],
    });
    this.channelGapReads = new Counter({
      name: 'chorus_channel_gap_reads_total',
      help: 'Channel events the fan-out lost on the way to this gateway, noticed by a seq gap and read back from the channel history',
      registers: [registry],
    });
    this.channelFailures = new Counter({
      name: 'chorus_channel_failures_total',
      help: 'Channel history appends and reads that failed, and subscribers skipped past events no longer retained (each one logged)',
      registers: [registry],
    });
    this.wsTransportErrors = new Counter({
      name: 'chorus_ws_transport_errors_total',
      help: '/ws connections closed by a protocol violation (a frame over the 1 MiB ceiling: 1009; invalid UTF-8: 1007)',
      registers: [registry],
    });
    this.wsMissedPongs = new Counter({ name: 'chorus_ws_missed_pongs_total', help: '/ws connections closed because they missed a heartbeat pong', registers: [registry] });
    this.transportLatency = new Histogram({
      name: 'chorus_transport_request_seconds',
      help: 'Round trip of requests to the services over the transport, by pattern (queueing lag included)',
      labelNames: ['pattern'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }
}
