import { Counter, type Registry } from 'prom-client';
import type { ConflictService } from './conflict.service';

/**
 * What operators watch on a conflict replica: commit rounds and the submits they carried. Their ratio is the
 * group-commit batching factor (docs/conflict.md, "The submit path"); a falling ratio under rising load means
 * commits stopped absorbing the load.
 */
export function registerConflictMetrics(registry: Registry, service: ConflictService): void {
  new Counter({
    name: 'chorus_conflict_commits_total',
    help: 'Commit rounds (a transaction or one fast-path statement) of this replica',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(service.commitCounters().transactions);
    },
  });
  new Counter({
    name: 'chorus_conflict_committed_submits_total',
    help: 'Submits carried by commit rounds of this replica (committed, refused or deduplicated)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(service.commitCounters().submits);
    },
  });
}
