import { ChorusError, type ChorusClient } from '@chorus/client';
import type { CreateTemplateBody, TemplateView } from '@chorus/protocol';
import { h, replaceChildren } from './dom';

// My session templates on the home screen (docs/session-admin.md): list, create, delete, and start a new session
// from one — it gets the template's project path, settings, visibility, cap, default roles and channels.

export class TemplatesPanel {
  readonly root = h('section', { class: 'templates', 'data-testid': 'templates' });
  private readonly list = h('ul', { class: 'template-list', 'data-testid': 'template-list' });
  private readonly error = h('p', { class: 'error', 'data-testid': 'template-error' });
  private readonly name = h('input', { name: 'template_name', 'data-testid': 'template-name', placeholder: 'Template name', autocomplete: 'off' });
  private readonly projectPath = h('input', { name: 'project_path', 'data-testid': 'template-project-path', placeholder: 'project path (optional)', autocomplete: 'off' });
  private readonly settings = h('textarea', { name: 'settings', 'data-testid': 'template-settings', rows: 2, placeholder: 'settings JSON, e.g. {"theme": "dark"}', spellcheck: 'false' });
  private readonly isPublic = h('input', { type: 'checkbox', name: 'is_public', 'data-testid': 'template-public' });
  private readonly maxParticipants = h('input', { type: 'number', name: 'max_participants', 'data-testid': 'template-max', min: 1, max: 1000, placeholder: 'max people' });
  private readonly channels = h('input', { name: 'channels', 'data-testid': 'template-channels', placeholder: 'channels: x-build, x-review', autocomplete: 'off' });

  constructor(
    private readonly client: ChorusClient,
    /** The name a session started from a template gets (the home screen's session name field). */
    private readonly sessionName: () => string,
    private readonly opened: (sessionId: string) => void,
  ) {
    replaceChildren(
      this.root,
      h('h2', {}, 'My templates'),
      this.list,
      h(
        'form',
        { class: 'template-form', 'data-testid': 'template-form', onsubmit: (e: Event) => (e.preventDefault(), void this.create()) },
        this.name,
        this.projectPath,
        this.settings,
        h('div', { class: 'template-row' }, h('label', {}, this.isPublic, ' public'), this.maxParticipants, this.channels),
        h('button', { type: 'submit', 'data-testid': 'template-create' }, 'Save as template'),
      ),
      this.error,
    );
  }

  async refresh(): Promise<void> {
    try {
      const templates = await this.client.admin.listTemplates();
      replaceChildren(this.list, ...(templates.length === 0 ? [h('li', { class: 'muted' }, 'No templates yet.')] : templates.map((t) => this.item(t))));
    } catch (err) {
      this.fail('templates not listed', err);
    }
  }

  /** The form as a template, or why it is not one. */
  private body(): CreateTemplateBody | string {
    const name = this.name.value.trim();
    if (name === '') return 'A template needs a name.';
    const body: CreateTemplateBody = { name, is_public: this.isPublic.checked };
    const path = this.projectPath.value.trim();
    if (path !== '') body.project_path = path;
    if (this.settings.value.trim() !== '') {
      let settings: unknown;
      try {
        settings = JSON.parse(this.settings.value);
      } catch {
        return 'Settings must be JSON, e.g. {"theme": "dark"}.';
      }
      if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) return 'Settings must be a JSON object, e.g. {"theme": "dark"}.';
      body.settings = settings as Record<string, unknown>;
    }
    if (this.maxParticipants.value !== '') body.max_participants = Number(this.maxParticipants.value);
    const channels = this.channels.value.split(',').map((c) => c.trim()).filter((c) => c !== '');
    if (channels.length > 0) body.channels = channels as CreateTemplateBody['channels'];
    return body;
  }

  private async create(): Promise<void> {
    const body = this.body();
    if (typeof body === 'string') {
      this.error.textContent = body;
      return;
    }
    try {
      // The server validates it all (VALIDATION_FAILED names the field): its message is shown as is.
      await this.client.admin.createTemplate(body);
      for (const field of [this.name, this.projectPath, this.settings, this.maxParticipants, this.channels]) field.value = '';
      this.isPublic.checked = false;
      this.error.textContent = '';
      await this.refresh();
    } catch (err) {
      this.fail('template not saved', err);
    }
  }

  private item(t: TemplateView): HTMLElement {
    const summary = [
      Object.keys(t.settings).length > 0 ? JSON.stringify(t.settings) : null,
      t.is_public ? 'public' : 'private',
      t.max_participants !== null ? `max ${t.max_participants}` : null,
      t.channels.length > 0 ? t.channels.join(' ') : null,
      t.project_path,
    ].filter((s) => s !== null);
    const use = async (): Promise<void> => {
      try {
        const created = await this.client.admin.createFromTemplate(t.template_id, { name: this.sessionName() || t.name });
        this.opened(created.session_id);
      } catch (err) {
        this.fail('session not created', err);
      }
    };
    const remove = async (): Promise<void> => {
      try {
        await this.client.admin.deleteTemplate(t.template_id);
        await this.refresh();
      } catch (err) {
        this.fail('template not deleted', err);
      }
    };
    return h(
      'li',
      { 'data-testid': 'template-item', 'data-template-id': t.template_id, 'data-name': t.name },
      h('strong', {}, t.name),
      h('span', { class: 'template-summary' }, summary.join(' · ')),
      h('button', { type: 'button', 'data-testid': 'template-use', onclick: () => void use() }, 'New session'),
      h('button', { type: 'button', 'data-testid': 'template-delete', onclick: () => void remove() }, 'Delete'),
    );
  }

  private fail(what: string, err: unknown): void {
    this.error.textContent = `${what}: ${err instanceof ChorusError ? `${err.code}: ${err.message}` : (err as Error).message}`;
  }
}
