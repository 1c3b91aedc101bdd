/**
 * What a transport server reports for metrics (the runtime turns it into Prometheus series; docs/observability.md).
 * Every method is optional and must not throw; the transport itself never depends on a metrics library.
 */
export interface TransportObserver {
  /** A message was read: `waitMs` after it was added to its stream (queueing lag), on its `deliveries`-th delivery. */
  received?(pattern: string, waitMs: number, deliveries: number): void;
  /** A handler finished: `outcome` is `ok` or the error code it answered with. */
  handled?(pattern: string, seconds: number, outcome: string): void;
  /** Entries taken over from another replica: `dead` (its connections are gone) or `idle` (hung past claimIdleMs). */
  claimed?(how: 'dead' | 'idle', count: number): void;
  /** A message moved to the dead-letter stream. */
  deadLettered?(pattern: string, reason: 'unparseable' | 'max_deliveries'): void;
}

/** One stream a service's consumer group reads, as XINFO GROUPS tells it. */
export interface StreamBacklog {
  /** `requests` (unordered), `ordered` (the ordering shards, summed) or `event:<pattern>`. */
  readonly stream: string;
  /** Entries delivered to the group and not yet acknowledged (being handled, or left by a dead replica). */
  readonly pending: number;
  /** Entries not yet delivered to the group at all (Redis ≥ 7.0 reports it; null before, or when unknown). */
  readonly lag: number | null;
}

/** The service's queue as a whole: what every replica of it sees the same (report with `max by (service)`). */
export interface TransportBacklog {
  readonly streams: StreamBacklog[];
  /** Entries in the dead-letter stream (trimmed at maxLen). */
  readonly deadLetters: number;
}
