import { Counter, type Registry } from 'prom-client';
import type { ConflictService } from './conflict.service';
import type { PurgeBackstopCounts } from './documents/purge-backstop.job';
import type { LockExpiryCounts } from './locks/lock-expiry.job';
import { STORE_FAILURE_KINDS, type CommitFailureCounts } from './submit/commit-failures';

/**
 * What operators watch on a conflict replica: commit rounds and the submits they carried. Their ratio is the
 * group-commit batching factor (docs/conflict.md, "The submit path"); a falling ratio under rising load means
 * commits stopped absorbing the load. And the commit failures caught (docs/conflict.md, "When a commit fails"):
 * any `data`/`limit`/`unknown` count means input reached Postgres that the service's checks should refuse.
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
  new Counter({
    name: 'chorus_conflict_workflow_total',
    help: 'Conflicts of this replica by outcome: recorded, record_failed (logged; the notice went without an id), resolved',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const c = service.conflictCounters();
      this.inc({ outcome: 'recorded' }, c.recorded);
      this.inc({ outcome: 'record_failed' }, c.recordFailures);
      this.inc({ outcome: 'resolved' }, c.resolved);
    },
  });
  const byKind = (name: string, help: string, pick: (c: CommitFailureCounts) => Record<string, number>): void => {
    new Counter({
      name,
      help,
      labelNames: ['kind'],
      registers: [registry],
      collect() {
        this.reset();
        const counts = pick(service.commitFailures());
        for (const kind of STORE_FAILURE_KINDS) this.inc({ kind }, counts[kind]);
      },
    });
  };
  byKind('chorus_conflict_fast_path_errors_total', 'Fast-path commit statements that failed other than by a resend hitting the dedupe key, by kind', (c) => c.fastPathErrors);
  byKind('chorus_conflict_failed_commits_total', 'Locked-path commit attempts that failed (whole batches or isolated parts), by kind', (c) => c.failedCommits);
  byKind('chorus_conflict_isolated_submits_total', 'Submits failed alone after their batch was bisected, by kind', (c) => c.isolatedSubmits);
}

/**
 * The purge backstop (docs/conflict.md, "Purging deleted sessions"): sessions purged, purges failed, and
 * `session.gone` queries failed. A steady `purged` count means the gateway's own purge keeps failing; any
 * `failed` or `query_failed` means leftovers stay until a pass succeeds.
 */
export function registerPurgeBackstopMetrics(registry: Registry, counts: () => Readonly<PurgeBackstopCounts>): void {
  new Counter({
    name: 'chorus_conflict_purge_backstop_total',
    help: 'Deleted or vanished sessions handled by the purge backstop of this replica, by outcome (purged, failed, query_failed, deferred: gone but written to recently)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const c = counts();
      this.inc({ outcome: 'purged' }, c.purged);
      this.inc({ outcome: 'failed' }, c.failed);
      this.inc({ outcome: 'query_failed' }, c.queryFailed);
      this.inc({ outcome: 'deferred' }, c.deferred);
    },
  });
}

/**
 * Lock expiry (locks/lock-expiry.job.ts): locks expired by this replica, their `file_unlocked` pushes that failed
 * to publish (clients recover from `joined.locks` / `document.lock`), and passes whose DELETE failed.
 */
export function registerLockExpiryMetrics(registry: Registry, counts: () => Readonly<LockExpiryCounts>): void {
  new Counter({
    name: 'chorus_conflict_lock_expiry_total',
    help: 'File locks handled by the lock-expiry job of this replica, by outcome (expired; publish_failed: its file_unlocked push was lost; pass_failed: a pass whose DELETE failed; audit_failed: its audit record was lost)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const c = counts();
      this.inc({ outcome: 'expired' }, c.expired);
      this.inc({ outcome: 'publish_failed' }, c.publishFailed);
      this.inc({ outcome: 'pass_failed' }, c.passFailed);
      this.inc({ outcome: 'audit_failed' }, c.auditFailed);
    },
  });
}
