import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Yjs documents on a gateway (docs/yjs.md): updates made durable, refusals by reason, the /yjs/ path's sockets. */
export class YjsMetrics {
  readonly updates: Counter<'outcome'>;
  readonly refused: Counter<'reason'>;
  readonly appendLatency: Histogram;
  readonly framesOut: Counter;
  readonly deliveryFailures: Counter;
  readonly gapFills: Counter<'outcome'>;
  readonly pathConnections: Gauge;
  readonly pathRefused: Counter<'reason'>;

  constructor(registry: Registry) {
    this.updates = new Counter({ name: 'chorus_yjs_updates_total', help: 'Yjs updates made durable (appended), recognised as a resend (duplicate), or a read-only connection\'s no-op ignored (ignored)', labelNames: ['outcome'], registers: [registry] });
    this.refused = new Counter({ name: 'chorus_yjs_refused_total', help: 'y-protocols messages refused, by reason (malformed, read_only, too_large, not_subscribed, rate_limited, failed, stateless, unauthenticated)', labelNames: ['reason'], registers: [registry] });
    this.appendLatency = new Histogram({ name: 'chorus_yjs_append_seconds', help: 'Time from an update received to it being durable (the conflict service round trip)', buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] });
    this.framesOut = new Counter({ name: 'chorus_yjs_path_frames_out_total', help: 'Binary frames written by the hub to /yjs/ and /hocuspocus sockets', registers: [registry] });
    this.deliveryFailures = new Counter({ name: 'chorus_yjs_delivery_failures_total', help: 'yjs_message pushes this node could not apply (a bug: they were checked when relayed)', registers: [registry] });
    this.gapFills = new Counter({ name: 'chorus_yjs_gap_fills_total', help: 'Holes in the durable updates pushed to this node (an update whose gateway died before its push) filled from the stored state, or not (failed, tried again)', labelNames: ['outcome'], registers: [registry] });
    this.pathConnections = new Gauge({ name: 'chorus_yjs_path_connections', help: 'Open provider connections on this gateway (/yjs/ and /hocuspocus)', registers: [registry] });
    this.pathRefused = new Counter({ name: 'chorus_yjs_path_refused_total', help: '/yjs/ upgrades refused and /hocuspocus tokens denied, by reason', labelNames: ['reason'], registers: [registry] });
  }
}
