import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { startTracing } from '@chorus/tracing';

/** Imported first by traced-stack.fixture.ts: tracing on, every span kept in memory, before anything else loads. */
export const exporter = new InMemorySpanExporter();
startTracing('standalone', { exporter });
