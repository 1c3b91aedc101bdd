import { ChorusError } from '@chorus/client';
import type { YjsVersionRestored, YjsVersionSavedEvent, YjsVersions } from '@chorus/client/yjs';
import type { Role, YjsVersionInfoView, YjsVersionSavedView } from '@chorus/protocol';
import { h, replaceChildren } from './dom';

// The version history of the open Yjs document (docs/yjs.md "Versions in the SDK and the app"), over the SDK's
// `provider.versions`: its versions newest first with their labels, authors and times; save the current state
// (with an optional label); preview a version's text; restore one after a confirmation. A restore reaches every
// editor as an ordinary update (the CRDT shows it); the `yjs_version_restored` event of anyone's restore and the
// `yjs_version_saved` event of anyone's save refresh this list live and say who did what. The list shows the newest
// page (50); "Load more" appends the next older page (the SDK's `list({before})`), kept across refreshes. Viewers
// see the list and previews, not the save and restore buttons.

/** Roles that may edit documents, hence save and restore versions (the server's `document.edit`). */
const WRITERS: readonly Role[] = ['owner', 'admin', 'editor', 'agent'];

/** What the panel shows, for the tests (window.chorusDebug.yjsVersions). */
export interface ShownVersions {
  versions: Array<{ version: number; label: string | null; author: string | null; reason: string }>;
  preview: { version: number; text: string | null } | null;
  confirming: number | null;
  status: string;
  canEdit: boolean;
  /** Whether older versions remain to be loaded ("Load more" shown). */
  more: boolean;
}

export class YjsVersionsPanel {
  readonly root = h('section', { class: 'yjs-versions', 'data-testid': 'yjs-versions' });
  /** Errors of this panel's calls: shown, and counted here. */
  errors = 0;
  private versions: YjsVersionInfoView[] = [];
  /** The cursor of the next older page (`before`), null when every version is listed. */
  private nextBefore: number | null = null;
  /** Older pages were loaded: a refresh keeps them (it reloads only the newest page). */
  private pagedBeyondFirst = false;
  /** A save of this panel is in flight, and the versions it saved: their `saved` events say nothing more. */
  private saving = false;
  private readonly ownSaves = new Set<number>();
  private preview: { version: number; text: string | null } | null = null;
  private confirming: number | null = null;
  private canEdit = true;
  private busy = false;
  private refreshing: Promise<void> | null = null;
  private again = false;
  private readonly label = h('input', { name: 'version_label', 'data-testid': 'yjs-version-label', placeholder: 'label (optional)', maxlength: 200, autocomplete: 'off' });
  private readonly form = h(
    'form',
    { class: 'yjs-version-form', 'data-testid': 'yjs-version-form', onsubmit: (e: Event) => (e.preventDefault(), void this.save()) },
    this.label,
    h('button', { type: 'submit', 'data-testid': 'yjs-version-save' }, 'Save version'),
  );
  private readonly list = h('ul', { class: 'yjs-version-list', 'data-testid': 'yjs-version-list' });
  private readonly previewView = h('div', { class: 'yjs-version-preview', 'data-testid': 'yjs-version-preview' });
  private readonly status = h('span', { class: 'yjs-version-status', 'data-testid': 'yjs-version-status' });
  private readonly more = h('button', { type: 'button', class: 'yjs-version-more', 'data-testid': 'yjs-version-more', hidden: true, onclick: () => void this.loadMore() }, 'Load more');
  private readonly offRestored: () => void;
  private readonly offSaved: () => void;

  constructor(
    private readonly history: YjsVersions,
    role: Role | null,
    private readonly show: (message: string) => void,
    private readonly nameOf: (userId: string) => string,
  ) {
    replaceChildren(
      this.root,
      h('div', { class: 'yjs-versions-bar' }, h('h3', {}, 'Versions'), h('button', { type: 'button', 'data-testid': 'yjs-version-refresh', onclick: () => void this.refresh() }, 'Refresh'), this.status),
      this.form,
      this.list,
      this.more,
      this.previewView,
    );
    this.setRole(role);
    this.offRestored = history.on('restored', (r) => this.restoredBy(r));
    this.offSaved = history.on('saved', (s) => this.savedBy(s));
  }

  /** Viewers (and anyone not allowed `document.edit`) get no save or restore. Unknown yet (null): allowed; the server decides. */
  setRole(role: Role | null): void {
    this.canEdit = role === null || WRITERS.includes(role);
    this.root.dataset.canEdit = String(this.canEdit);
    this.form.hidden = !this.canEdit;
    if (!this.canEdit) this.confirming = null;
    this.render();
  }

  /**
   * Lists the versions (newest first, the newest page: 50). Older pages loaded with "Load more" stay, after the
   * newest page (the versions older than its oldest). One listing at a time.
   */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          try {
            const page = await this.history.list();
            if (this.pagedBeyondFirst) {
              const oldest = Math.min(...page.versions.map((v) => v.version));
              this.versions = [...page.versions, ...this.versions.filter((v) => v.version < oldest)];
            } else {
              this.versions = page.versions;
              this.nextBefore = page.next_before;
            }
            this.render();
          } catch (err) {
            this.fail('list versions', err);
          }
        } while (this.again);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Appends the next older page of versions. */
  private async loadMore(): Promise<void> {
    const before = this.nextBefore;
    if (before === null || this.busy) return;
    await this.act('loading older versions…', async () => {
      const page = await this.history.list({ before });
      const have = new Set(this.versions.map((v) => v.version));
      this.versions = [...this.versions, ...page.versions.filter((v) => !have.has(v.version))];
      this.nextBefore = page.next_before;
      this.pagedBeyondFirst = true;
      this.setStatus(`${this.versions.length} versions`);
    });
  }

  shown(): ShownVersions {
    return {
      versions: this.versions.map((v) => ({ version: v.version, label: v.label, author: v.author, reason: v.reason })),
      preview: this.preview,
      confirming: this.confirming,
      status: this.status.textContent ?? '',
      canEdit: this.canEdit,
      more: this.nextBefore !== null,
    };
  }

  destroy(): void {
    this.offRestored();
    this.offSaved();
    this.root.remove();
  }

  private async save(): Promise<void> {
    if (this.busy) return;
    const label = this.label.value.trim();
    await this.act(`saving…`, async () => {
      this.saving = true;
      let saved: YjsVersionSavedView;
      try {
        saved = await this.history.save(label === '' ? undefined : label);
      } finally {
        this.saving = false;
      }
      this.ownSaves.add(saved.version);
      this.label.value = '';
      this.setStatus(saved.created ? `saved version ${saved.version}` : `version ${saved.version} already holds this text`);
      await this.refresh();
    });
  }

  private async showPreview(version: number): Promise<void> {
    await this.act(`reading version ${version}…`, async () => {
      const v = await this.history.get(version);
      this.preview = { version, text: v.text };
      this.setStatus(`version ${version}`);
    });
  }

  private async restore(version: number): Promise<void> {
    this.confirming = null;
    await this.act(`restoring version ${version}…`, async () => {
      const r = await this.history.restore(version);
      this.setStatus(r.changed ? `restored version ${version}` : `the text already is version ${version}`);
    });
  }

  /** Anyone's restore (ours included): the list may have changed under it, and everyone learns who did it. */
  private restoredBy(r: YjsVersionRestored): void {
    this.setStatus(`${this.nameOf(r.user_id)} restored version ${r.version}`);
    this.root.dataset.restored = `${r.version}@${r.event_seq}`;
    void this.refresh();
  }

  /** Anyone's save (ours included): a new version to list, and everyone learns who saved it. */
  private savedBy(s: YjsVersionSavedEvent): void {
    if (!this.saving && !this.ownSaves.has(s.version)) this.setStatus(`${this.nameOf(s.user_id)} saved version ${s.version}${s.label === null ? '' : ` (${s.label})`}`);
    this.root.dataset.saved = `${s.version}@${s.event_seq}`;
    void this.refresh();
  }

  private async act(doing: string, run: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.setStatus(doing);
    this.render();
    try {
      await run();
    } catch (err) {
      this.fail(doing.replace(/…$/, ''), err);
    } finally {
      this.busy = false;
      this.render();
    }
  }

  private fail(what: string, err: unknown): void {
    this.errors++;
    const e = ChorusError.from(err);
    this.show(`${what}: ${e.code}: ${e.message}`);
    this.setStatus(`${what} failed (${e.code})`);
  }

  private setStatus(text: string): void {
    this.status.textContent = text;
  }

  private render(): void {
    for (const b of this.form.querySelectorAll('button')) b.disabled = this.busy;
    this.more.hidden = this.nextBefore === null;
    this.more.disabled = this.busy;
    replaceChildren(this.list, ...this.versions.map((v) => this.item(v)), this.versions.length === 0 && h('li', { class: 'muted' }, 'No versions yet.'));
    const p = this.preview;
    replaceChildren(
      this.previewView,
      p && h('h4', {}, `Version ${p.version}`),
      p && h('pre', { class: 'yjs-version-text', 'data-testid': 'yjs-version-preview-text', 'data-version': p.version }, p.text ?? '(no text)'),
    );
  }

  private item(v: YjsVersionInfoView): HTMLElement {
    const confirming = this.confirming === v.version;
    const who = v.author === null ? 'compaction' : this.nameOf(v.author);
    return h(
      'li',
      { 'data-version': v.version, 'data-reason': v.reason, class: this.preview?.version === v.version ? 'current' : undefined },
      h('span', { class: 'version-number' }, `v${v.version}`),
      h('span', { class: 'version-label', 'data-testid': 'yjs-version-item-label' }, v.label ?? (v.reason === 'compaction' ? 'auto' : '')),
      h('time', { datetime: v.created_at, title: v.created_at }, new Date(v.created_at).toLocaleString()),
      h('span', { class: 'version-author' }, who),
      h('button', { type: 'button', 'data-testid': 'yjs-version-preview-button', disabled: this.busy, onclick: () => void this.showPreview(v.version) }, 'Preview'),
      this.canEdit && !confirming && h('button', { type: 'button', 'data-testid': 'yjs-version-restore', disabled: this.busy, onclick: () => ((this.confirming = v.version), this.render()) }, 'Restore'),
      confirming &&
        h(
          'span',
          { class: 'yjs-version-confirm', 'data-testid': 'yjs-version-confirm' },
          `Restore version ${v.version} for everyone? `,
          h('button', { type: 'button', 'data-testid': 'yjs-version-confirm-restore', onclick: () => void this.restore(v.version) }, 'Restore'),
          h('button', { type: 'button', 'data-testid': 'yjs-version-cancel', onclick: () => ((this.confirming = null), this.render()) }, 'Cancel'),
        ),
    );
  }
}
