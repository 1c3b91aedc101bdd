import type { LoggerService } from '@nestjs/common';
import type { AuditRecord } from '@chorus/contracts';
import type { ChorusError } from '@chorus/protocol';
import type { Connection, GatewayDeps } from './connection';

/**
 * How long a reply waits for its audit record. Normally the record lands well within it (one append), so a
 * client that sees the answer finds it in the export; when the session service is slow or down, the answer does
 * not wait for the transport's timeout — the record goes on in the background (and is counted if it fails).
 */
export const AUDIT_WAIT_MS = 1_000;

/**
 * Hands an audit event to the session service (`audit.record`): a refused socket action or a lock change. The
 * session service appends it to the session stream (durable), then publishes it like any event. A failure is
 * logged and counted here (`chorus_ws_audit_failures_total`), never turned into the client's answer: the action
 * itself was decided already. Resolves when recorded, failed, or after `waitMs`, whichever comes first.
 */
export async function recordAudit(deps: Pick<GatewayDeps, 'sessions' | 'metrics'>, logger: LoggerService, sessionId: string, record: AuditRecord, waitMs = AUDIT_WAIT_MS): Promise<void> {
  const recorded = deps.sessions.call('audit.record', { session_id: sessionId, record }).then(
    () => undefined,
    (err: unknown) => {
      deps.metrics.auditFailures.inc();
      logger.error(`Audit record ${record.kind} for session ${sessionId} failed: ${(err as Error).message}`, undefined, 'Audit');
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, waitMs);
    timer.unref();
  });
  await Promise.race([recorded, waited]);
  clearTimeout(timer);
}

/**
 * A socket request refused with PERMISSION_DENIED, in a session this connection is a member of, goes to that
 * session's audit trail (who, what, why, on what). Refusals in sessions the connection never joined are not
 * recorded there: anyone could otherwise write into any session's trail by naming it.
 */
export function auditRefusal(deps: GatewayDeps, logger: LoggerService, connection: Connection, type: string, payload: unknown, error: ChorusError): Promise<void> | undefined {
  if (error.code !== 'PERMISSION_DENIED' || typeof payload !== 'object' || payload === null) return undefined;
  const { session_id: sessionId, doc_id: docId } = payload as { session_id?: unknown; doc_id?: unknown };
  if (typeof sessionId !== 'string' || !connection.data.memberships.has(sessionId)) return undefined;
  return recordAudit(deps, logger, sessionId, {
    kind: 'refused',
    user_id: connection.data.identity.user_id,
    action: type,
    code: error.code,
    reason: error.message,
    // The resource: the document, else the first path refused (file sync names its paths in the error).
    ...(typeof docId === 'string' ? { resource: docId.slice(0, 1_024) } : error.details.paths?.[0] !== undefined ? { resource: error.details.paths[0].slice(0, 1_024) } : {}),
  });
}
