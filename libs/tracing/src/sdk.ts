import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Tracing } from './index';

/** Paths a scraper and the probes hit every few seconds: traced, they would be most of the spans and tell nothing. */
const UNTRACED = /^\/(metrics|health)(\/|\?|$)/;

/** Query parameters whose values never reach a span: ours, then the instrumentation's own defaults (signed URLs). */
const REDACTED_QUERY = ['ticket', 'token', 'access_token', 'join_token', 'sig', 'Signature', 'AWSAccessKeyId', 'X-Goog-Signature', 'X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Security-Token'];

export function start(options: { serviceName: string; exporter: 'none' | 'otlp' | 'console'; override: SpanExporter | undefined; instanceId: string | undefined }): Tracing {
  // OTEL_RESOURCE_ATTRIBUTES first, then ours: OTEL_SERVICE_NAME has been folded into serviceName already.
  const resource = detectResources({ detectors: [envDetector] }).merge(
    resourceFromAttributes({ 'service.name': options.serviceName, ...(options.instanceId !== undefined ? { 'service.instance.id': options.instanceId } : {}) }),
  );
  const processor =
    options.override !== undefined
      ? new SimpleSpanProcessor(options.override)
      : new BatchSpanProcessor(options.exporter === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter());
  // Sampler from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on); limits from OTEL_SPAN_*.
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // The global provider, the W3C trace-context + baggage propagator and the AsyncLocalStorage context manager.
  provider.register();
  // Tells @chorus/transport to make spans and carry trace context (libs/transport/src/tracing.ts).
  (globalThis as Record<symbol, unknown>)[Symbol.for('chorus.tracing.on')] = true;
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      // `?ticket=` (SSE, /ws over Socket.IO's polling) and any token-like query value are redacted in url.query.
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => UNTRACED.test(req.url ?? ''), redactedQueryParamsServer: REDACTED_QUERY }),
      new ExpressInstrumentation(),
      // Statement text is kept (parameters are never recorded); a span per pool.connect is noise. Both: only inside
      // a trace (a request, a transport message), not every poll of a periodic job.
      new PgInstrumentation({ ignoreConnectSpans: true, requireParentSpan: true }),
      // XREADGROUP BLOCK waits up to blockMs on an idle stream: a span per empty poll would be most of the trace volume.
      // The statement is the command name only: its arguments are transport envelopes (user content, join tokens),
      // fan-out messages and keys with user ids, which the default serializer would export verbatim.
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (command) => command }),
    ],
  });
  return {
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
