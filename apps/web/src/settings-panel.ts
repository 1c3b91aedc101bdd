import { ChorusError, sessionUpdateOf, type ChorusClient, type ChorusSession, type DurableEvent, type SessionChanges } from '@chorus/client';
import type { Role, SessionView as SessionInfo, UpdateSessionBody } from '@chorus/protocol';
import { h, replaceChildren } from './dom';

// The session's settings (docs/session-admin.md): name, project path, settings object, public, password,
// expiry and the participant cap. Owners and admins edit them (PATCH through `client.admin.updateSession`),
// everyone else sees the values read-only. A `session_updated` event (from another tab, another gateway) updates
// the values live.

/** Who may change a session (the `session.update` row of the role matrix, docs/authorization.md). */
export const MANAGERS: readonly Role[] = ['owner', 'admin'];

const EXPIRY_CHOICES: Array<[string, string]> = [
  ['', 'keep as is'],
  ['none', 'no expiry'],
  ['3600', 'in 1 hour'],
  ['86400', 'in 1 day'],
  ['604800', 'in 7 days'],
  ['2592000', 'in 30 days'],
];

/** JSON with the keys of every object sorted: the server's store may give them back in another order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export class SettingsPanel {
  readonly root = h('section', { class: 'settings', 'data-testid': 'settings' });
  /** The session as last loaded or updated; null until `load()`. */
  info: SessionInfo | null = null;
  private readonly name = h('input', { name: 'name', 'data-testid': 'settings-name', autocomplete: 'off' });
  private readonly projectPath = h('input', { name: 'project_path', 'data-testid': 'settings-project-path', placeholder: '(none)', autocomplete: 'off' });
  private readonly settings = h('textarea', { name: 'settings', 'data-testid': 'settings-json', rows: 3, spellcheck: 'false' });
  private readonly isPublic = h('input', { type: 'checkbox', name: 'is_public', 'data-testid': 'settings-public' });
  private readonly maxParticipants = h('input', { type: 'number', name: 'max_participants', 'data-testid': 'settings-max', min: 1, max: 1000 });
  private readonly password = h('input', { type: 'password', name: 'password', 'data-testid': 'settings-password', placeholder: 'new password', autocomplete: 'new-password' });
  private readonly clearPassword = h('input', { type: 'checkbox', name: 'clear_password', 'data-testid': 'settings-clear-password' });
  private readonly hasPassword = h('span', { 'data-testid': 'settings-has-password' });
  private readonly expiresAt = h('span', { 'data-testid': 'settings-expires-at' });
  private readonly expiry = h('select', { name: 'expiry', 'data-testid': 'settings-expiry' }, ...EXPIRY_CHOICES.map(([value, label]) => h('option', { value }, label)));
  private readonly role = h('p', { class: 'settings-role', 'data-testid': 'settings-role' });
  private readonly save = h('button', { type: 'submit', 'data-testid': 'settings-save' }, 'Save');
  private readonly status = h('p', { class: 'settings-status', 'data-testid': 'settings-status' });

  constructor(
    private readonly client: ChorusClient,
    private readonly session: ChorusSession,
    /** Called with the session after every load, save and live update (the header shows the name). */
    private readonly onInfo: (info: SessionInfo) => void,
  ) {
    const row = (label: string, ...field: Array<Node | string>) => {
      for (const f of field) if (f instanceof HTMLInputElement || f instanceof HTMLTextAreaElement || f instanceof HTMLSelectElement) f.setAttribute('aria-label', label);
      return h('div', { class: 'settings-row' }, h('span', { class: 'settings-label' }, label), h('span', { class: 'settings-field' }, ...field));
    };
    replaceChildren(
      this.root,
      h('h3', {}, 'Session settings'),
      this.role,
      h(
        'form',
        { class: 'settings-form', 'data-testid': 'settings-form', onsubmit: (e: Event) => (e.preventDefault(), void this.submit()) },
        row('Name', this.name),
        row('Project path', this.projectPath),
        row('Settings (JSON)', this.settings),
        row('Public', h('label', {}, this.isPublic, ' listed in discovery; anyone may join as a viewer')),
        row('Max participants', this.maxParticipants),
        row('Password', this.hasPassword, this.password, h('label', {}, this.clearPassword, ' clear it')),
        row('Expires', this.expiresAt, this.expiry),
        this.save,
        this.status,
      ),
    );
    session.on('event', (event) => {
      // While a load is in flight an event may be newer than what it reads: kept, and applied after it.
      if (this.loading) this.early.push(event);
      else this.onEvent(event);
    });
  }

  private loading = false;
  private early: DurableEvent[] = [];

  private onEvent(event: DurableEvent): void {
    const info = this.info;
    // Events up to the loaded `last_seq` are in `info` already (a replay after a reconnect repeats them).
    if (!info || event.seq <= info.last_seq) return;
    info.last_seq = event.seq;
    const changes = sessionUpdateOf(event);
    if (changes) return this.apply(changes);
    // A role change may be ours: what we may do follows it.
    if (event.kind === 'session_event' && event.message.event_type === 'role_changed') void this.load();
  }

  /** The role the caller has in the session (null until loaded). */
  get myRole(): Role | null {
    return this.info?.my_role ?? null;
  }

  /** Loads the session (GET /sessions/:id) and shows it. */
  async load(): Promise<void> {
    this.loading = true;
    try {
      this.render(await this.client.admin.getSession(this.session.id));
    } catch (err) {
      this.fail('settings not loaded', err);
    } finally {
      this.loading = false;
      for (const event of this.early.splice(0)) this.onEvent(event);
    }
  }

  private apply(changes: SessionChanges): void {
    const info = this.info;
    if (!info) return;
    const { has_password: hasPassword, ...rest } = changes;
    // Only what changed is rewritten: an edit in progress in another field stays (and is still sent on Save).
    this.render({ ...info, ...rest, ...(hasPassword !== undefined ? { has_password: hasPassword } : {}) }, new Set(Object.keys(changes) as Array<keyof SessionChanges>));
    this.status.textContent = `Updated live: ${Object.keys(changes).join(', ')}`;
    this.status.dataset.state = 'live';
  }

  /** Shows `info`: every field, or only `fields` (a live update). */
  private render(info: SessionInfo, fields?: ReadonlySet<keyof SessionChanges>): void {
    this.info = info;
    const editable = info.my_role !== null && MANAGERS.includes(info.my_role);
    const show = (field: keyof SessionChanges) => fields === undefined || fields.has(field);
    this.root.dataset.editable = String(editable);
    if (show('name')) this.name.value = info.name;
    if (show('project_path')) this.projectPath.value = info.project_path ?? '';
    if (show('settings')) this.settings.value = JSON.stringify(info.settings, null, 2);
    if (show('is_public')) this.isPublic.checked = info.is_public;
    if (show('max_participants')) this.maxParticipants.value = String(info.max_participants);
    this.hasPassword.textContent = info.has_password ? 'set' : 'none';
    if (show('has_password')) {
      this.password.value = '';
      this.clearPassword.checked = false;
    }
    this.expiresAt.textContent = info.expires_at === null ? 'never' : new Date(info.expires_at).toLocaleString();
    this.expiresAt.dataset.value = info.expires_at ?? '';
    if (show('expires_at')) this.expiry.value = '';
    for (const field of [this.name, this.projectPath, this.settings, this.isPublic, this.maxParticipants, this.password, this.clearPassword, this.expiry]) field.disabled = !editable;
    this.save.hidden = !editable;
    this.role.textContent = editable ? `You are ${info.my_role}: you can change these.` : `You are ${info.my_role ?? 'not a participant'}: read only (owners and admins change these).`;
    this.onInfo(info);
  }

  /** The fields that differ from the session as loaded (what PATCH gets), or a reason they cannot be sent. */
  private changes(info: SessionInfo): UpdateSessionBody | string {
    const body: UpdateSessionBody = {};
    const name = this.name.value.trim();
    if (name !== info.name) body.name = name;
    const path = this.projectPath.value.trim();
    if (path !== (info.project_path ?? '')) body.project_path = path === '' ? null : path;
    let settings: unknown;
    try {
      settings = JSON.parse(this.settings.value.trim() === '' ? '{}' : this.settings.value);
    } catch {
      return 'Settings must be JSON, e.g. {"theme": "dark"}.';
    }
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) return 'Settings must be a JSON object, e.g. {"theme": "dark"}.';
    if (canonical(settings) !== canonical(info.settings)) body.settings = settings as Record<string, unknown>;
    if (this.isPublic.checked !== info.is_public) body.is_public = this.isPublic.checked;
    const max = Number(this.maxParticipants.value);
    if (!Number.isInteger(max) || max < 1) return 'Max participants must be a whole number, at least 1.';
    if (max !== info.max_participants) body.max_participants = max;
    if (this.clearPassword.checked) body.password = null;
    else if (this.password.value !== '') body.password = this.password.value;
    if (this.expiry.value === 'none') body.expires_in_s = null;
    else if (this.expiry.value !== '') body.expires_in_s = Number(this.expiry.value);
    return body;
  }

  private async submit(): Promise<void> {
    const info = this.info;
    if (!info) return;
    const body = this.changes(info);
    if (typeof body === 'string') return this.report(body, 'error');
    if (Object.keys(body).length === 0) return this.report('Nothing changed.', 'idle');
    this.save.disabled = true;
    try {
      // The server checks it all again (VALIDATION_FAILED, PERMISSION_DENIED, …): its message is shown as is.
      const updated = await this.client.admin.updateSession(this.session.id, body);
      // Our own session_updated arrives too; last_seq stays ours, so it is not applied twice.
      this.render({ ...updated, last_seq: Math.max(updated.last_seq, info.last_seq) });
      this.report(`Saved: ${Object.keys(body).join(', ')}`, 'saved');
    } catch (err) {
      this.fail('not saved', err);
    } finally {
      this.save.disabled = false;
    }
  }

  private fail(what: string, err: unknown): void {
    this.report(`${what}: ${err instanceof ChorusError ? `${err.code}: ${err.message}` : (err as Error).message}`, 'error');
  }

  private report(message: string, state: 'error' | 'idle' | 'saved'): void {
    this.status.textContent = message;
    this.status.dataset.state = state;
    this.status.classList.toggle('error', state === 'error');
  }
}
