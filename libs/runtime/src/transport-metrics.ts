import type { LoggerService } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { TransportBacklog, TransportObserver } from '@chorus/transport';

/** A transport server whose queue can be inspected (the Redis Streams one; the in-process twin has no queue to show). */
interface InspectableServer {
  observe(observer: TransportObserver): void;
  backlog?(): Promise<TransportBacklog>;
}

/** Scrapes within this window share one read of the queues (several gauges, one XINFO round trip). */
const BACKLOG_CACHE_MS = 1_000;

/**
 * The transport's metrics (docs/observability.md): what each replica handled, how long messages waited, what it
 * took over from other replicas and dead-lettered, and the queue itself — pending entries, lag and dead letters
 * per service, read from Redis at scrape time. Created with the runtime (before any registry exists), registered
 * into the registry of the app that serves /metrics.
 */
export class TransportMetrics {
  private readonly servers: Array<{ service: string; server: InspectableServer }> = [];
  private readonly backlogs = new Map<string, { at: number; value: Promise<TransportBacklog> }>();
  private readonly received = new Counter({
    name: 'chorus_transport_received_total',
    help: 'Transport messages read by this replica, by service, pattern and delivery (first, or redelivery after a replica died or hung)',
    labelNames: ['service', 'pattern', 'delivery'],
    registers: [],
  });
  private readonly queueWait = new Histogram({
    name: 'chorus_transport_queue_wait_seconds',
    help: 'Time a transport message waited in its stream before this replica read it (the stream entry id\'s time to the read), by service',
    labelNames: ['service'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [],
  });
  private readonly handled = new Counter({
    name: 'chorus_transport_handled_total',
    help: 'Transport messages handled by this replica, by service, pattern and outcome (ok, or the error code answered)',
    labelNames: ['service', 'pattern', 'outcome'],
    registers: [],
  });
  private readonly handlerSeconds = new Histogram({
    name: 'chorus_transport_handler_seconds',
    help: 'Handler time of transport messages on this replica, by service and pattern',
    labelNames: ['service', 'pattern'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [],
  });
  private readonly claimed = new Counter({
    name: 'chorus_transport_claimed_total',
    help: 'Pending transport messages this replica took over from another, by service and how: dead (its Redis connections were gone) or idle (hung past claimIdleMs)',
    labelNames: ['service', 'how'],
    registers: [],
  });
  private readonly deadLettered = new Counter({
    name: 'chorus_transport_dead_lettered_total',
    help: 'Transport messages this replica moved to the dead-letter stream, by service and reason (max_deliveries, unparseable)',
    labelNames: ['service', 'reason'],
    registers: [],
  });
  private readonly backlogFailures = new Counter({
    name: 'chorus_transport_backlog_read_failures_total',
    help: 'Scrapes that could not read the transport queues from Redis (the pending, lag and dead-letter gauges then keep no sample; each logged)',
    labelNames: ['service'],
    registers: [],
  });
  private readonly pending: Gauge<'service' | 'stream'>;
  private readonly lag: Gauge<'service' | 'stream'>;
  private readonly deadLetters: Gauge<'service'>;

  constructor(private readonly logger: LoggerService) {
    const collect = (fill: (service: string, backlog: TransportBacklog) => void) => async () => {
      for (const { service, backlog } of await this.readBacklogs()) fill(service, backlog);
    };
    this.pending = new Gauge({
      name: 'chorus_transport_pending_messages',
      help: 'Transport messages delivered to a service\'s consumer group and not yet acknowledged (being handled, or left by a dead replica until taken over), by service and stream (requests, ordered, event:<pattern>). The same on every replica: use max by (service)',
      labelNames: ['service', 'stream'],
      registers: [],
      collect: collect((service, b) => {
        for (const s of b.streams) this.pending.set({ service, stream: s.stream }, s.pending);
      }),
    });
    this.lag = new Gauge({
      name: 'chorus_transport_lag_messages',
      help: 'Transport messages in a service\'s streams not yet delivered to any replica (XINFO GROUPS lag; Redis ≥ 7.0), by service and stream. The same on every replica',
      labelNames: ['service', 'stream'],
      registers: [],
      collect: collect((service, b) => {
        for (const s of b.streams) if (s.lag !== null) this.lag.set({ service, stream: s.stream }, s.lag);
      }),
    });
    this.deadLetters = new Gauge({
      name: 'chorus_transport_dead_letters',
      help: 'Entries in a service\'s dead-letter stream (growing: messages are being given up; inspect with XRANGE <prefix>:svc:<service>:dead). The same on every replica',
      labelNames: ['service'],
      registers: [],
      collect: collect((service, b) => this.deadLetters.set({ service }, b.deadLetters)),
    });
  }

  /** Starts reporting one transport server of this process. */
  watch(service: string, server: InspectableServer): void {
    this.servers.push({ service, server });
    server.observe({
      received: (pattern, waitMs, deliveries) => {
        this.received.inc({ service, pattern, delivery: deliveries > 1 ? 'redelivery' : 'first' });
        this.queueWait.observe({ service }, waitMs / 1000);
      },
      handled: (pattern, seconds, outcome) => {
        this.handled.inc({ service, pattern, outcome });
        this.handlerSeconds.observe({ service, pattern }, seconds);
      },
      claimed: (how, count) => this.claimed.inc({ service, how }, count),
      deadLettered: (_pattern, reason) => this.deadLettered.inc({ service, reason }),
    });
  }

  /** Adds these metrics to the registry that /metrics serves (once per registry). */
  registerInto(registry: Registry): void {
    const metrics: Array<Counter<string> | Gauge<string> | Histogram<string>> = [this.received, this.queueWait, this.handled, this.handlerSeconds, this.claimed, this.deadLettered, this.backlogFailures, this.pending, this.lag, this.deadLetters];
    for (const metric of metrics) {
      const name = (metric as unknown as { name: string }).name;
      if (registry.getSingleMetric(name) === undefined) registry.registerMetric(metric);
    }
  }

  private async readBacklogs(): Promise<Array<{ service: string; backlog: TransportBacklog }>> {
    const out: Array<{ service: string; backlog: TransportBacklog }> = [];
    for (const { service, server } of this.servers) {
      if (server.backlog === undefined) continue;
      let cached = this.backlogs.get(service);
      if (cached === undefined || Date.now() - cached.at > BACKLOG_CACHE_MS) {
        cached = { at: Date.now(), value: server.backlog() };
        this.backlogs.set(service, cached);
        cached.value.catch((err: unknown) => {
          this.backlogFailures.inc({ service });
          this.logger.warn(`Reading the "${service}" transport queues for /metrics failed: ${(err as Error).message}`, 'TransportMetrics');
        });
      }
      try {
        out.push({ service, backlog: await cached.value });
      } catch {
        // counted and logged above, once per read
      }
    }
    return out;
  }
}
