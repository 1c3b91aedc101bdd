import type { LoggerService } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DataSource } from 'typeorm';

/** Scrapes within this window share one read of the queue (three gauges, one statement). */
const CACHE_MS = 1_000;

interface QueueStats {
  readonly byStatus: Map<string, number>;
  readonly oldestQueuedS: number;
  readonly agents: number;
}

/**
 * The prompt queue as operators watch it (docs/observability.md): prompts waiting, held by an agent and parked
 * (given up after AGENT_MAX_ATTEMPTS: someone must look), how long the oldest has waited, live agent
 * credentials. Read from Postgres at scrape time over the partial indexes of queued and assigned prompts; the
 * same on every session replica (use max). A failed read is logged and counted, and the gauges keep no sample.
 */
export function registerAgentMetrics(registry: Registry, ds: DataSource, logger: LoggerService): void {
  let cached: { at: number; value: Promise<QueueStats> } | undefined;
  const failures = new Counter({ name: 'chorus_agent_queue_read_failures_total', help: 'Scrapes that could not read the prompt queue from Postgres (each logged)', registers: [registry] });
  const read = (): Promise<QueueStats> => {
    if (cached !== undefined && Date.now() - cached.at <= CACHE_MS) return cached.value;
    const value = (async () => {
      const rows = (await ds.query(
        `SELECT status, count(*)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(queued_at) FILTER (WHERE status = 'queued')), 0)::float AS oldest
           FROM prompts WHERE status IN ('queued', 'assigned', 'parked') GROUP BY status`,
      )) as Array<{ status: string; n: number; oldest: number }>;
      const agents = (await ds.query(`SELECT count(*)::int AS n FROM agents WHERE revoked_at IS NULL`)) as Array<{ n: number }>;
      return {
        byStatus: new Map(rows.map((r) => [r.status, Number(r.n)])),
        oldestQueuedS: Math.max(0, ...rows.map((r) => Number(r.oldest))),
        agents: Number(agents[0]?.n ?? 0),
      };
    })();
    cached = { at: Date.now(), value };
    value.catch((err: unknown) => {
      failures.inc();
      logger.warn(`Reading the prompt queue for /metrics failed: ${(err as Error).message}`, 'AgentMetrics');
    });
    return value;
  };
  const withStats = (fill: (stats: QueueStats) => void) => async () => {
    const stats = await read().catch(() => undefined);
    if (stats !== undefined) fill(stats);
  };
  const prompts = new Gauge({
    name: 'chorus_agent_prompts',
    help: 'Prompts in the durable queue by status: queued (waiting for an agent), assigned (held under a lease), parked (given up after AGENT_MAX_ATTEMPTS; needs a person). The same on every session replica',
    labelNames: ['status'],
    registers: [registry],
    collect: withStats((s) => {
      for (const status of ['queued', 'assigned', 'parked']) prompts.set({ status }, s.byStatus.get(status) ?? 0);
    }),
  });
  const oldest = new Gauge({
    name: 'chorus_agent_oldest_queued_prompt_seconds',
    help: 'Age of the oldest queued prompt (0 when none waits): agents are missing or too slow when it keeps growing',
    registers: [registry],
    collect: withStats((s) => oldest.set(s.oldestQueuedS)),
  });
  const agents = new Gauge({
    name: 'chorus_agents',
    help: 'Agent credentials not revoked, across all sessions',
    registers: [registry],
    collect: withStats((s) => agents.set(s.agents)),
  });
}
