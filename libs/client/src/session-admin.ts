import type {
  CreateInviteBody,
  CreateTemplateBody,
  DiscoverPage,
  InviteCreated,
  InviteView,
  SessionEventView,
  SessionView,
  TemplateView,
  UpdateSessionBody,
  UpdateTemplateBody,
} from '@chorus/protocol';
import type { DurableEvent } from './durable';
import type { ChorusRest } from './rest';

/** What a `session_updated` event changed (the new values; the password only as `has_password`). */
export interface SessionChanges {
  name?: string;
  project_path?: string | null;
  settings?: Record<string, unknown>;
  is_public?: boolean;
  has_password?: boolean;
  expires_at?: string | null;
  max_participants?: number;
}

/**
 * Session management over REST (docs/session-admin.md): change a session, addressed and permanent invites,
 * invite listing and revocation, public discovery, the audit trail and templates. `client.admin` is one.
 */
export class SessionAdmin {
  constructor(private readonly rest: ChorusRest) {}

  /** A session as it is now (any participant; a public one also for others): its name, settings, `my_role`. */
  getSession(sessionId: string): Promise<SessionView> {
    return this.rest.call('GET', `/collaboration/sessions/${encodeURIComponent(sessionId)}`);
  }

  /** Changes a session (owner or admin). Open sockets of the session get `session_updated`. */
  updateSession(sessionId: string, body: UpdateSessionBody): Promise<SessionView> {
    return this.rest.call('PATCH', `/collaboration/sessions/${encodeURIComponent(sessionId)}`, body);
  }

  /** An invite only `userId` can redeem (anyone else gets PERMISSION_DENIED). */
  inviteUser(sessionId: string, userId: string, body: Omit<CreateInviteBody, 'user_id'>): Promise<InviteCreated> {
    return this.rest.createInvite(sessionId, { ...body, user_id: userId });
  }

  /** A permanent link: no expiry, until revoked. */
  permanentLink(sessionId: string, body: Omit<CreateInviteBody, 'permanent' | 'expires_in_s'>): Promise<InviteCreated> {
    return this.rest.createInvite(sessionId, { ...body, permanent: true });
  }

  listInvites(sessionId: string): Promise<InviteView[]> {
    return this.rest.call('GET', `/collaboration/sessions/${encodeURIComponent(sessionId)}/invites`);
  }

  async revokeInvite(sessionId: string, inviteId: string): Promise<void> {
    await this.rest.call('DELETE', `/collaboration/sessions/${encodeURIComponent(sessionId)}/invites/${encodeURIComponent(inviteId)}`);
  }

  /** One page of public sessions (newest first), optionally searched by name; pass `next_cursor` on. */
  discover(options: { q?: string; cursor?: string; limit?: number } = {}): Promise<DiscoverPage> {
    const query = new URLSearchParams();
    if (options.q !== undefined) query.set('q', options.q);
    if (options.cursor !== undefined) query.set('cursor', options.cursor);
    if (options.limit !== undefined) query.set('limit', String(options.limit));
    const qs = query.toString();
    return this.rest.call('GET', `/collaboration/public-sessions${qs === '' ? '' : `?${qs}`}`);
  }

  /** Every public session matching `q`, page by page. */
  async *discoverAll(options: { q?: string; limit?: number } = {}): AsyncGenerator<SessionView> {
    let cursor: string | undefined;
    do {
      const page = await this.discover({ ...options, ...(cursor !== undefined ? { cursor } : {}) });
      yield* page.sessions;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** The audit trail (owner or admin): every session event after `afterSeq`, refusals and lock changes included. */
  async audit(sessionId: string, afterSeq = 0): Promise<SessionEventView[]> {
    const reply = await this.rest.call<{ events: SessionEventView[] }>('GET', `/collaboration/sessions/${encodeURIComponent(sessionId)}/audit?format=json&after_seq=${afterSeq}`);
    return reply.events;
  }

  createTemplate(body: CreateTemplateBody): Promise<TemplateView> {
    return this.rest.call('POST', '/collaboration/templates', body);
  }

  listTemplates(): Promise<TemplateView[]> {
    return this.rest.call('GET', '/collaboration/templates');
  }

  getTemplate(templateId: string): Promise<TemplateView> {
    return this.rest.call('GET', `/collaboration/templates/${encodeURIComponent(templateId)}`);
  }

  updateTemplate(templateId: string, body: UpdateTemplateBody): Promise<TemplateView> {
    return this.rest.call('PATCH', `/collaboration/templates/${encodeURIComponent(templateId)}`, body);
  }

  async deleteTemplate(templateId: string): Promise<void> {
    await this.rest.call('DELETE', `/collaboration/templates/${encodeURIComponent(templateId)}`);
  }

  /** Creates a session from a template (the body's fields win over the template's). */
  createFromTemplate(templateId: string, body: { name: string } & Omit<Parameters<ChorusRest['createSession']>[0], 'template_id' | 'name'>): Promise<SessionView> {
    return this.rest.createSession({ ...body, template_id: templateId });
  }
}

/**
 * The changes of a durable event if it is a `session_updated`, else null: for `session.on('event', …)`.
 *
 * ```ts
 * session.on('event', (e) => { const changes = sessionUpdateOf(e); if (changes) render(changes); });
 * ```
 */
export function sessionUpdateOf(event: DurableEvent): SessionChanges | null {
  if (event.kind !== 'session_event' || event.message.event_type !== 'session_updated') return null;
  const changes = (event.message.payload as { changes?: SessionChanges }).changes;
  return changes ?? null;
}
