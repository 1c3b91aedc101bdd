import type {
  AuditQuery,
  CreateTemplateBody,
  DiscoverPage,
  DiscoverQuery,
  InviteView,
  SessionEventView,
  SessionView,
  TemplateView,
  UpdateSessionBody,
  UpdateTemplateBody,
} from '@chorus/protocol';
import type { Identity } from '@chorus/auth';

/**
 * An audit event a gateway reports to the session service: a refused socket action, or a file lock change the
 * conflict service committed (the live notice stays the ephemeral `file_locked` / `file_unlocked`).
 */
export type AuditRecord =
  | { readonly kind: 'refused'; readonly user_id: string; readonly action: string; readonly code: string; readonly reason: string; readonly resource?: string }
  | { readonly kind: 'lock_acquired'; readonly doc_id: string; readonly holder_id: string; readonly peer_id: string; readonly expires_at: string }
  | { readonly kind: 'lock_released'; readonly doc_id: string; readonly holder_id: string | null; readonly by: string; readonly reason: 'released' | 'broken' | 'expired' }
  | { readonly kind: 'yjs_document_created'; readonly doc_id: string; readonly user_id: string }
  | { readonly kind: 'yjs_version_restored'; readonly doc_id: string; readonly version: number; readonly seq: number; readonly user_id: string }
  | { readonly kind: 'yjs_version_saved'; readonly doc_id: string; readonly version: number; readonly label: string | null; readonly seq: number; readonly user_id: string };

/** Session management patterns of the session service (docs/session-admin.md). */
export interface SessionAdminApi {
  'session.update': { req: { actor: Identity; session_id: string; body: UpdateSessionBody }; res: SessionView };
  'session.discover': { req: { actor: Identity; query: DiscoverQuery }; res: DiscoverPage };
  'invite.list': { req: { actor: Identity; session_id: string }; res: InviteView[] };
  /** One page of the audit trail (the gateway pages through them for the export). */
  'audit.page': { req: { actor: Identity; session_id: string; query: AuditQuery }; res: { events: SessionEventView[]; next_after_seq: number | null } };
  /** Trusted: a gateway records an audit event (deduplicated per transport request). */
  'audit.record': { req: { session_id: string; record: AuditRecord }; res: { recorded: true } };
  'template.create': { req: { actor: Identity; body: CreateTemplateBody }; res: TemplateView };
  'template.list': { req: { actor: Identity }; res: TemplateView[] };
  'template.get': { req: { actor: Identity; template_id: string }; res: TemplateView };
  'template.update': { req: { actor: Identity; template_id: string; body: UpdateTemplateBody }; res: TemplateView };
  'template.delete': { req: { actor: Identity; template_id: string }; res: { deleted: true } };
}
