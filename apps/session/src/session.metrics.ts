import { Counter, type Registry } from 'prom-client';
import type { SessionEventLog } from './events/event-log';

/**
 * What operators watch on a session replica. `unreadable_events`: rows of `session_events` read back that are
 * not a durable event of this version (an unknown type or a payload that fails its schema). Each distinct row is
 * logged once with its session and seq, and left out of replays and history; any count means stored data and
 * code disagree.
 */
export function registerSessionMetrics(registry: Registry, log: SessionEventLog): void {
  new Counter({
    name: 'chorus_session_unreadable_events_total',
    help: 'Distinct stored session events that did not parse as a durable event of this version when read back by this replica (left out, logged once)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(log.unreadableCount());
    },
  });
}
