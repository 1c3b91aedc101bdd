import { exporter } from './traced-preload';
import 'reflect-metadata';
import { loadConfig } from '@chorus/config';
import { createLogger } from '@chorus/runtime';
import { startChorus } from '../../../standalone/chorus';

// The product in its own process with tracing on and an in-memory exporter (observability.e2e-spec.ts): a child
// process because the instrumentations patch Node's module loader, which Jest's own loader bypasses. Env from
// the test: DATABASE_URL, REDIS_URL, REDIS_PREFIX, JWT_SECRET. Prints the port; `dump` on stdin prints the
// finished spans as one line of JSON.

async function main(): Promise<void> {
  const config = loadConfig('standalone', undefined, { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', DEV_TOKENS: 'true' });
  const chorus = await startChorus(config, createLogger(config));
  process.stdout.write(`traced stack listening on http://127.0.0.1:${chorus.port}\n`);
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    buffered += chunk;
    if (!buffered.includes('\n')) return;
    buffered = '';
    const spans = exporter.getFinishedSpans().map((s) => ({
      name: s.name,
      kind: s.kind,
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId,
      scope: s.instrumentationScope.name,
      attributes: s.attributes,
      status: s.status.code,
    }));
    process.stdout.write(`SPANS ${JSON.stringify(spans)}\n`);
  });
  process.once('SIGTERM', () => void chorus.stop().finally(() => process.exit(0)));
}

void main().catch((err: unknown) => {
  process.stderr.write(`traced stack failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
