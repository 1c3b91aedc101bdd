import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ConfigError, loadTracingConfig, type AppRole } from '@chorus/config';

/**
 * OpenTelemetry tracing for one process (docs/observability.md). Call `startTracing` before anything else is
 * loaded: the http, express, pg and ioredis instrumentations patch those modules when they are first required.
 * Each app's `main.ts` imports its `tracing.ts` first for that reason.
 *
 * Off by default (OTEL_TRACES_EXPORTER unset or none): nothing of the SDK is loaded, the OpenTelemetry API
 * stays a no-op, and the transport envelope carries no trace context. On: spans go through a batch processor to
 * the OTLP/HTTP exporter (or the console), configured by the standard OTEL_* variables.
 */
export interface Tracing {
  /** Exports what is buffered (tests; a clean stop). */
  forceFlush(): Promise<void>;
  /** Flushes and stops the SDK. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** Replaces the configured exporter (tests: an InMemorySpanExporter), spans exported one at a time as they end. */
  readonly exporter?: SpanExporter;
  /** The node id for `service.instance.id` (default: none; OTEL_RESOURCE_ATTRIBUTES may set it). */
  readonly instanceId?: string;
}

let running: Tracing | undefined;

/** Starts tracing when configured (or when `options.exporter` is given); returns undefined when it is off. */
export function startTracing(role: AppRole, options: TracingOptions = {}): Tracing | undefined {
  if (running) return running;
  let settings: ReturnType<typeof loadTracingConfig>;
  try {
    settings = loadTracingConfig(role);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (settings.exporter === 'none' && options.exporter === undefined) return undefined;
  // Loaded only when on: the SDK and the instrumentations cost start-up time (docs/observability.md).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('./sdk') as typeof import('./sdk');
  running = sdk.start({ serviceName: settings.serviceName, exporter: settings.exporter, override: options.exporter, instanceId: options.instanceId });
  return running;
}
