import { INVALID_SPAN_CONTEXT, ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Span } from '@opentelemetry/api';
import type { RequestEnvelope } from './envelope';

/**
 * Trace context across the transport (docs/observability.md). The caller's context travels in the envelope's
 * `c` (W3C `traceparent`/`tracestate`, whatever propagator is registered); the handling replica continues
 * the trace from it. Only the OpenTelemetry API is used here: without a registered SDK (tracing off, the
 * default) the propagator injects nothing, spans are non-recording no-ops and `c` stays absent.
 */
const tracer = trace.getTracer('@chorus/transport');

/**
 * Set on `globalThis` by @chorus/tracing when it registers an SDK (a global symbol, so neither lib imports the
 * other: @chorus/tracing must load before ioredis, which this package's index loads). Off, the span calls are
 * skipped altogether: a shared no-op span, no carrier, the handler called directly (bench:tracing measures it).
 */
const TRACING_ON = Symbol.for('chorus.tracing.on');
const on = (): boolean => (globalThis as Record<symbol, unknown>)[TRACING_ON] === true;

const OFF_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** W3C trace context fields, as the registered propagator writes them. */
export type TraceCarrier = Record<string, string>;

/** A CLIENT span for one request (PRODUCER for an event), and the carrier to put into its envelope. */
export function startSendSpan(service: string, pattern: string, kind: 'request' | 'event'): { span: Span; carrier: TraceCarrier | undefined } {
  if (!on()) return { span: OFF_SPAN, carrier: undefined };
  const span = tracer.startSpan(`${pattern} send`, {
    kind: kind === 'request' ? SpanKind.CLIENT : SpanKind.PRODUCER,
    attributes: { 'messaging.system': 'chorus_transport', 'messaging.destination.name': service, 'messaging.operation.type': 'send', 'chorus.pattern': pattern },
  });
  const carrier: TraceCarrier = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return { span, carrier: Object.keys(carrier).length > 0 ? carrier : undefined };
}

/** Ends a span, marking it failed with the error's code and message when there is one. */
export function endSpan(span: Span, error?: { code?: unknown; message?: unknown }): void {
  if (span === OFF_SPAN) return;
  if (error !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: typeof error.message === 'string' ? error.message : undefined });
    if (typeof error.code === 'string') span.setAttribute('chorus.error_code', error.code);
  }
  span.end();
}

/**
 * Runs one message's handler in a CONSUMER span that continues the sender's trace (a new trace when the
 * envelope carries none), so everything the handler does (Postgres, Redis) lands in the sender's trace.
 */
export function withReceiveSpan<T>(service: string, env: RequestEnvelope, deliveries: number, handle: () => Promise<T>, failed: (result: T) => { code?: unknown; message?: unknown } | undefined): Promise<T> {
  if (!on()) return handle();
  const parent = env.c === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, env.c);
  return tracer.startActiveSpan(
    `${env.p} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: { 'messaging.system': 'chorus_transport', 'messaging.destination.name': service, 'messaging.operation.type': 'process', 'messaging.message.id': env.i, 'chorus.pattern': env.p, 'chorus.origin_node': env.o, 'chorus.deliveries': deliveries },
    },
    parent,
    async (span) => {
      let result: T | undefined;
      try {
        result = await handle();
        return result;
      } finally {
        endSpan(span, result === undefined ? undefined : failed(result));
      }
    },
  );
}
