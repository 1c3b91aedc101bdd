import { ChorusError, type ChorusClient, type ChorusSession } from '@chorus/client';
import type { CreateInviteBody, InviteView, Role } from '@chorus/protocol';
import { h, replaceChildren } from './dom';
import { MANAGERS } from './settings-panel';

// The session's invites (docs/session-admin.md), for its owners and admins: create one (a role, optionally
// addressed to one user id — only that principal can redeem it — optionally permanent), list them, copy a link,
// revoke. Refreshed when an invite is created, redeemed or revoked by anyone (the session's durable events).

const ROLES: Array<CreateInviteBody['role']> = ['editor', 'viewer', 'agent', 'admin'];
const REFRESH_ON = new Set(['invite_created', 'invite_redeemed', 'invite_revoked']);

/** The app's link for an invite code or token: it lands on /join/… of this app. */
export function joinLink(codeOrToken: string): string {
  return `${location.origin}/join/${encodeURIComponent(codeOrToken)}`;
}

export class InvitesPanel {
  readonly root = h('section', { class: 'invites', 'data-testid': 'invites' });
  /** The invites as last listed (revoked ones left out). */
  invites: InviteView[] = [];
  private readonly role = h('select', { name: 'role', 'data-testid': 'invite-role' }, ...ROLES.map((r) => h('option', { value: r }, r)));
  private readonly userId = h('input', { name: 'user_id', 'data-testid': 'invite-user-id', placeholder: 'for user id (optional)', autocomplete: 'off' });
  private readonly permanent = h('input', { type: 'checkbox', name: 'permanent', 'data-testid': 'invite-permanent' });
  private readonly created = h('input', { class: 'invite-link', 'data-testid': 'invite-created-link', readonly: true, placeholder: 'the new invite link' });
  private readonly list = h('ul', { class: 'invite-list', 'data-testid': 'invite-list' });
  private readonly status = h('p', { class: 'error', 'data-testid': 'invite-status' });
  private readonly body = h('div', { class: 'invites-body' });
  private manager = false;
  private refreshing: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly client: ChorusClient,
    private readonly session: ChorusSession,
  ) {
    replaceChildren(this.root, h('h3', {}, 'Invites'), this.body);
    this.setRole(null);
    session.on('event', (event) => {
      if (this.manager && event.kind === 'session_event' && REFRESH_ON.has(event.message.event_type)) void this.refresh();
    });
  }

  /** Only owners and admins list and manage invites (`invite.create`, `invite.revoke`); others see a note. */
  setRole(role: Role | null): void {
    const manager = role !== null && MANAGERS.includes(role);
    if (manager === this.manager && this.body.childElementCount > 0) return;
    this.manager = manager;
    this.root.dataset.manager = String(manager);
    if (!manager) {
      replaceChildren(this.body, h('p', { class: 'muted', 'data-testid': 'invites-note' }, 'Owners and admins create and revoke invites.'));
      return;
    }
    const copy = h('button', { type: 'button', 'data-testid': 'invite-created-copy', onclick: () => void this.copy(this.created.value) }, 'Copy');
    replaceChildren(
      this.body,
      h(
        'form',
        { class: 'invite-form', 'data-testid': 'invite-form', onsubmit: (e: Event) => (e.preventDefault(), void this.create()) },
        this.role,
        this.userId,
        h('label', {}, this.permanent, ' permanent'),
        h('button', { type: 'submit', 'data-testid': 'invite-create' }, 'Create invite'),
      ),
      h('div', { class: 'invite-created' }, this.created, copy),
      this.status,
      this.list,
    );
    void this.refresh();
  }

  /** Reloads the list (one load at a time; a request during one runs once after it). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          this.render(await this.client.admin.listInvites(this.session.id));
        } catch (err) {
          this.fail('invites not listed', err);
        }
      } while (this.again);
      this.refreshing = null;
    })();
    return this.refreshing;
  }

  private async create(): Promise<void> {
    const userId = this.userId.value.trim();
    const body: CreateInviteBody = { role: this.role.value as CreateInviteBody['role'] };
    if (this.permanent.checked) body.permanent = true;
    try {
      const invite = userId === '' ? await this.client.rest.createInvite(this.session.id, body) : await this.client.admin.inviteUser(this.session.id, userId, body);
      // The token is shown once (the list has only codes): the link carries it.
      this.created.value = joinLink(invite.token);
      this.created.dataset.code = invite.code;
      this.created.dataset.inviteId = invite.invite_id;
      this.userId.value = '';
      this.status.textContent = '';
      await this.refresh();
    } catch (err) {
      this.fail('invite not created', err);
    }
  }

  private async revoke(invite: InviteView): Promise<void> {
    try {
      await this.client.admin.revokeInvite(this.session.id, invite.invite_id);
      await this.refresh();
    } catch (err) {
      this.fail('invite not revoked', err);
    }
  }

  private async copy(link: string): Promise<void> {
    if (link === '') return;
    await navigator.clipboard?.writeText(link).catch(() => {
      this.status.textContent = 'Copy the link from the box (clipboard refused).';
    });
  }

  private render(invites: InviteView[]): void {
    this.invites = invites.filter((i) => i.revoked_at === null);
    replaceChildren(this.list, ...(this.invites.length === 0 ? [h('li', { class: 'muted' }, 'No invites yet.')] : this.invites.map((i) => this.item(i))));
  }

  private item(i: InviteView): HTMLElement {
    const expired = i.expires_at !== null && Date.parse(i.expires_at) <= Date.now();
    const link = joinLink(i.code);
    return h(
      'li',
      { 'data-testid': 'invite-item', 'data-invite-id': i.invite_id, 'data-code': i.code, 'data-user-id': i.user_id ?? '' },
      h('code', {}, i.code),
      h('span', { class: 'badge' }, i.role),
      i.user_id !== null && h('span', { class: 'badge addressed', title: 'only this user can redeem it' }, `for ${i.user_id}`),
      h('span', { class: `badge${expired ? ' expired' : ''}` }, i.expires_at === null ? 'permanent' : expired ? 'expired' : `until ${new Date(i.expires_at).toLocaleString()}`),
      h('span', { class: 'uses' }, `${i.uses}${i.max_uses !== null ? `/${i.max_uses}` : ''} used`),
      i.has_password && h('span', { class: 'badge' }, 'password'),
      h('button', { type: 'button', 'data-testid': 'invite-copy', title: link, onclick: () => void this.copy(link) }, 'Copy link'),
      h('button', { type: 'button', 'data-testid': 'invite-revoke', onclick: () => void this.revoke(i) }, 'Revoke'),
    );
  }

  private fail(what: string, err: unknown): void {
    this.status.textContent = `${what}: ${err instanceof ChorusError ? `${err.code}: ${err.message}` : (err as Error).message}`;
  }
}
