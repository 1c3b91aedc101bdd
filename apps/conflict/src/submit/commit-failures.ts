import type { LoggerService } from '@nestjs/common';
import { ChorusError } from '@chorus/protocol';

/**
 * How a failed commit statement is answered. `transient`: the connection, the server or the transaction's
 * luck (connection lost, serialization failure, deadlock, statement timeout, shutdown) — the same submits may
 * commit if resent: UNAVAILABLE. `data` (SQLSTATE class 22, data exceptions: a NUL in jsonb, an invalid byte)
 * and `limit` (class 54: program limits) are deterministic: the same submit fails the same way every time.
 * `unknown`: anything else (a bug on our side); it is isolated like a deterministic one, then answered
 * SERVER_ERROR.
 */
export type StoreFailureKind = 'transient' | 'data' | 'limit' | 'unknown';

export const STORE_FAILURE_KINDS: readonly StoreFailureKind[] = ['transient', 'data', 'limit', 'unknown'];

/** SQLSTATE classes that say nothing about the data: 08 connection, 40 rollback, 53 resources, 57 operator, 58 system. */
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '57', '58']);

/** The constraint a resend hits in the fast path (migration 1764200000000). */
export const DEDUPE_CONSTRAINT = 'doc_ops_author_client_seq_key';

function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function classifyStoreError(err: unknown): StoreFailureKind {
  const state = sqlStateOf(err);
  if (state !== undefined) {
    if (state === '55P03' || TRANSIENT_CLASSES.has(state.slice(0, 2))) return 'transient';
    if (state.startsWith('22')) return 'data';
    if (state.startsWith('54')) return 'limit';
    return 'unknown';
  }
  // No SQLSTATE: the socket or the pool (ECONNRESET, "Connection terminated", "timeout exceeded when trying to
  // connect", a client already released), never the data.
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return 'transient';
  if (err instanceof Error && /connect|connection|terminated|timeout|timed out|closed|not queryable/i.test(err.message)) return 'transient';
  return 'unknown';
}

/** The fast path's expected failure: a resend's INSERT hit the dedupe key (the locked path then answers it). */
export function isResendCollision(err: unknown): boolean {
  return sqlStateOf(err) === '23505' && (err as { constraint?: unknown }).constraint === DEDUPE_CONSTRAINT;
}

export const STORE_UNAVAILABLE = (): ChorusError => new ChorusError('UNAVAILABLE', 'The document store did not commit the op; resend it with the same seq.');

/** The answer to a submit whose commit failed on its own (isolated from its batch-mates). */
export function refusalOf(kind: StoreFailureKind, err: unknown): ChorusError {
  const state = sqlStateOf(err) ?? 'none';
  switch (kind) {
    case 'transient':
      return STORE_UNAVAILABLE();
    case 'data':
      return ChorusError.validation(
        'op',
        `The document store cannot hold this op or document id (invalid data, SQLSTATE ${state}). Nothing was applied; sending it again unchanged will fail the same way.`,
      );
    case 'limit':
      return new ChorusError('PAYLOAD_TOO_LARGE', `The document store refused this op as too large (SQLSTATE ${state}). Nothing was applied; send smaller ops.`);
    case 'unknown':
      return new ChorusError('SERVER_ERROR', 'The document store failed on this op alone (an error on our side, logged). Nothing was applied; other submits were not affected.');
  }
}

export interface CommitFailureCounts {
  /** Fast-path statements that failed other than by a resend's dedupe-key hit (those go to the locked path as expected). */
  readonly fastPathErrors: Record<StoreFailureKind, number>;
  /** Locked-path commit attempts (document creation + transaction) that failed, whole batches or isolated parts. */
  readonly failedCommits: Record<StoreFailureKind, number>;
  /** Submits answered with an error after isolation: the guilty ones, failed alone. */
  readonly isolatedSubmits: Record<StoreFailureKind, number>;
}

const zero = (): Record<StoreFailureKind, number> => ({ transient: 0, data: 0, limit: 0, unknown: 0 });

/**
 * Every caught commit failure is logged and counted here (metrics: conflict.metrics.ts). Only the message and
 * SQLSTATE are logged, never the statement's parameters or the driver's `detail` (they carry document text).
 */
export class CommitMonitor {
  private readonly counts = { fastPathErrors: zero(), failedCommits: zero(), isolatedSubmits: zero() };

  constructor(private readonly logger: LoggerService) {}

  fastPathFailed(err: unknown, kind: StoreFailureKind, documents: number): void {
    this.counts.fastPathErrors[kind] += 1;
    this.logger.warn(`Fast-path commit of ${documents} document(s) failed (${describe(err, kind)}); they take the locked path`, 'ConflictCommit');
  }

  commitFailed(err: unknown, kind: StoreFailureKind, documents: number, submits: number): void {
    this.counts.failedCommits[kind] += 1;
    const next = kind === 'transient' ? 'answered UNAVAILABLE' : submits > 1 ? 'isolating the guilty submit(s)' : 'refusing the submit';
    this.logger.warn(`Commit of ${submits} submit(s) on ${documents} document(s) failed (${describe(err, kind)}); ${next}`, 'ConflictCommit');
  }

  submitRefused(err: unknown, kind: StoreFailureKind, where: { sessionId: string; docId: string; clientId: string; seq: number }): void {
    this.counts.isolatedSubmits[kind] += 1;
    const line = `Submit ${where.clientId}#${where.seq} on ${where.sessionId}/${JSON.stringify(where.docId)} failed alone (${describe(err, kind)})`;
    if (kind === 'unknown') this.logger.error(line, undefined, 'ConflictCommit');
    else this.logger.warn(line, 'ConflictCommit');
  }

  snapshot(): CommitFailureCounts {
    return { fastPathErrors: { ...this.counts.fastPathErrors }, failedCommits: { ...this.counts.failedCommits }, isolatedSubmits: { ...this.counts.isolatedSubmits } };
  }
}

function describe(err: unknown, kind: StoreFailureKind): string {
  const state = sqlStateOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return `${kind}${state ? `, SQLSTATE ${state}` : ''}: ${message}`;
}
