import { authorize, type Action, type FileAction, type Identity } from '@chorus/auth';
import type { AuditRecord, Caller } from '@chorus/contracts';
import { ChorusError } from '@chorus/protocol';
import type { Counter } from 'prom-client';
import type { FileRulesCache } from '../files/file-rules.cache';
import type { SessionRouter } from '../routing/session.router';

/** REST has no connection, hence no peer: one fixed client id (reads never dedupe on it). */
export const REST_CLIENT_ID = 'rest';

/**
 * Repeated identical refusals (same user, action, resource, code and reason) within this window are recorded once
 * per gateway node; the others are counted (`chorus_http_audit_collapsed_total`). A client polling a route it may
 * not use would otherwise write one durable session event — pushed to every member — per request. Nothing is
 * lost for the trail: the who, what and why of the collapsed ones are those of the recorded one. (A record that
 * failed — logged and counted by recordAudit — opens the window too: the recorder does not say it failed.)
 */
export const REFUSAL_WINDOW_MS = 10_000;

/** What a REST action needs besides membership: a role-matrix action, and the path rules of one file. */
export interface RestCheck {
  readonly needs: Action;
  readonly file?: { readonly doc_id: string; readonly access: FileAction };
}

/** Records an audit event in the session's trail (recordAudit: waits for it a bounded time, never throws). */
export type AuditRecorder = (sessionId: string, record: AuditRecord) => Promise<void>;

/**
 * The REST side of the audit trail's "refused actions" for the routes a gateway answers itself with a call to the
 * conflict service (documents, versions, Yjs documents, conflicts): the session service audits its own routes
 * (AuditTrail.refusing), the socket edge its messages (auditRefusal); these routes refused nowhere else.
 *
 * One place decides and records: `run` checks the role matrix and the session's path rules (the same checks as
 * the socket handlers: `authorize`, FileRulesCache), runs the work, and a PERMISSION_DENIED from any of them —
 * this gateway's, or the conflict service's own — becomes an `access_refused` session event (who: the user;
 * what: the conflict pattern and the doc id; why: the code and the refused caller's message, which names the
 * role or the rule) before the error goes on unchanged to the HTTP error filter. Other errors are never audited.
 * The session stream is the only record; nothing here is kept but the collapse window.
 */
export class RestRefusals {
  /** Collapse window: key → when its record was made. Insertion order is time order (a key is re-set only after it expired). */
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly sessions: SessionRouter,
    private readonly files: FileRulesCache,
    private readonly audit: AuditRecorder,
    private readonly collapsed: Pick<Counter, 'inc'>,
    private readonly windowMs = REFUSAL_WINDOW_MS,
    private readonly maxKeys = 10_000,
  ) {}

  /**
   * The actor as a caller of the session: its role from the session service. A non-participant (even of a public
   * session) is NOT_FOUND, told so before anything else is checked, and never audited: anyone could otherwise
   * write into any session's trail by naming it.
   */
  async caller(actor: Identity, sessionId: string): Promise<Caller> {
    const session = await this.sessions.call('session.get', { actor, session_id: sessionId });
    if (session.my_role === null) throw new ChorusError('NOT_FOUND', `Session ${sessionId} does not exist, has expired, or you are not a participant.`);
    return { user_id: actor.user_id, client_id: REST_CLIENT_ID, role: session.my_role };
  }

  /** Checks `check`, then runs `work`; a PERMISSION_DENIED on the way is recorded (once per window), then rethrown. */
  async run<T>(caller: Caller, sessionId: string, action: string, check: RestCheck, work: () => Promise<T>): Promise<T> {
    try {
      authorize(caller.role, check.needs);
      if (check.file) await this.files.authorize(sessionId, { role: caller.role, user_id: caller.user_id }, check.file.doc_id, check.file.access);
      return await work();
    } catch (err) {
      const error = ChorusError.from(err);
      if (error.code === 'PERMISSION_DENIED') await this.record(caller, sessionId, action, check.file?.doc_id, error);
      throw err;
    }
  }

  /**
   * The items whose document the caller may read (a list never names a file its reader may not see: path rules
   * with `none` hide it). Not a refusal: the rest of the list is the answer, and nothing is audited.
   */
  async readable<T>(caller: Caller, sessionId: string, items: readonly T[], docOf: (item: T) => string): Promise<T[]> {
    const kept: T[] = [];
    for (const item of items) {
      const decision = await this.files.decide(sessionId, { role: caller.role, user_id: caller.user_id }, docOf(item));
      if (decision.access !== 'none') kept.push(item);
    }
    return kept;
  }

  private async record(caller: Caller, sessionId: string, action: string, resource: string | undefined, error: ChorusError): Promise<void> {
    const key = JSON.stringify([sessionId, caller.user_id, action, resource ?? null, error.code, error.message]);
    const now = Date.now();
    const at = this.recent.get(key);
    if (at !== undefined && now - at < this.windowMs) {
      this.collapsed.inc();
      return;
    }
    this.recent.delete(key);
    if (this.recent.size >= this.maxKeys) this.recent.delete(this.recent.keys().next().value as string);
    this.recent.set(key, now);
    await this.audit(sessionId, {
      kind: 'refused',
      user_id: caller.user_id,
      action,
      code: error.code,
      reason: error.message,
      ...(resource !== undefined ? { resource: resource.slice(0, 1_024) } : {}),
    });
  }
}
