import { ChorusError, FileSyncGuest, FileSyncHost, memorySource, syncDiff, type ChorusSession, type DownloadProgress, type SyncDiff } from '@chorus/client';
import { normalizeFilePath, type Manifest, type ManifestEntry } from '@chorus/protocol';
import { h, replaceChildren } from './dom';
import { ProjectStore, type ProjectFile } from './project-store';
import { sideBySide, textPane } from './side-by-side';

// The project files panel (issue #15, docs/file-sync.md "In the browser app"): this browser's copy of the
// session's project (project-store.ts), which the user can fill (typed files, <input type=file multiple>) and
// share as the session's file host (FileSyncHost over memorySource), or compare with the host's: "Fetch manifest"
// asks the host for its manifest, shows it, and lists what syncDiff finds added, changed and deleted — a changed
// text file side by side (this copy vs the host's bytes, fetched and sha256-verified), a binary one by sizes and
// hashes. Accepting (all, or one file) downloads through FileSyncGuest with progress, verifies every file and
// writes the copy; rejecting changes nothing.

/** Changed text files up to this size are fetched to be shown side by side; bigger ones by size and hash. */
const PREVIEW_MAX_BYTES = 256 * 1024;

type Change = 'add' | 'update' | 'delete';

/** What "Fetch manifest" found: the host's manifest and the changes still waiting for accept or reject. */
interface Offer {
  readonly manifest: Manifest;
  readonly hostPeerId: string;
  /** Entries of the host's manifest the session's path rules hide from this participant (a count: no names). */
  readonly withheld: number;
  readonly diff: SyncDiff;
  /** Paths still undecided. */
  readonly open: Set<string>;
  /** Changed text files: the host's text (verified), shown beside this copy's. */
  readonly hostTexts: Map<string, string>;
}

/** The diff as shown, for tests (window.chorusDebug.projectDiff). */
export interface ShownDiff {
  hostPeerId: string;
  add: string[];
  update: string[];
  delete: string[];
  unchanged: string[];
}

/** UTF-8 text without NUL, or null (binary). */
function textOf(bytes: Uint8Array): string | null {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.includes('\u0000') ? null : text;
  } catch {
    return null;
  }
}

function sizeOf(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function modifiedOf(m: number | string): number {
  const t = typeof m === 'number' ? m : Date.parse(m);
  return Number.isFinite(t) ? t : Date.now();
}

const hashShort = (hash: string) => h('code', { class: 'hash', title: hash }, hash.slice(0, 12));

export class ProjectFilesPanel {
  readonly root = h('section', { class: 'project-files', 'data-testid': 'project-files' });
  store: ProjectStore | null = null;
  /** Errors of the host helper and of this panel's actions: shown, and counted here. */
  errors = 0;
  private host: FileSyncHost | null = null;
  /** The session's file host as last heard (null: nobody shares). */
  private hostPeerId: string | null = null;
  private offer: Offer | null = null;
  private busy = false;
  private readonly localList = h('ul', { class: 'project-local', 'data-testid': 'local-files' });
  private readonly shareState = h('span', { class: 'share-state', 'data-testid': 'share-state' });
  private readonly shareButton = h('button', { 'data-testid': 'share-project', onclick: () => void this.toggleShare() }, 'Share these files');
  private readonly fetchButton = h('button', { 'data-testid': 'fetch-manifest', onclick: () => void this.fetchManifest() }, 'Fetch manifest');
  private readonly status = h('span', { class: 'sync-status', 'data-testid': 'sync-status' });
  private readonly progress = h('progress', { 'data-testid': 'sync-progress', max: 1, value: 0, hidden: true });
  private readonly offerView = h('div', { class: 'project-offer', 'data-testid': 'project-offer' });

  constructor(
    private readonly session: ChorusSession,
    private readonly show: (message: string) => void,
  ) {
    const path = h('input', { name: 'project_path', 'data-testid': 'project-path', placeholder: 'src/main.ts', autocomplete: 'off' });
    const content = h('textarea', { name: 'project_text', 'data-testid': 'project-text', rows: 2, placeholder: 'file content' });
    const upload = h('input', { type: 'file', multiple: true, 'data-testid': 'project-upload', title: 'add files to this copy' });
    upload.addEventListener('change', () => void this.addUploads(upload));
    const form = h(
      'form',
      {
        class: 'project-form',
        'data-testid': 'project-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          void this.addTyped(path.value, content.value).then((ok) => {
            if (ok) {
              path.value = '';
              content.value = '';
            }
          });
        },
      },
      path,
      content,
      h('button', { type: 'submit' }, 'Save file'),
    );
    replaceChildren(
      this.root,
      h('h3', {}, 'Project files'),
      h('div', { class: 'project-bar' }, this.shareButton, this.shareState, this.fetchButton, this.progress, this.status),
      h('div', { class: 'project-columns' }, h('div', {}, h('h4', {}, "This browser's copy"), this.localList, form, upload), this.offerView),
    );
    session.on('files', (m) => {
      if (m.type === 'file_host') this.renderShare(m.file_host?.peer_id ?? null);
    });
    // The host's name comes from presence, which may arrive after the host is known.
    session.on('presence', () => this.renderShare(this.hostPeerId));
    session.on('joined', ({ rejoin }) => {
      if (rejoin) void this.refreshHost();
    });
  }

  /** Opens this session's copy (IndexedDB) and shows who hosts (once joined). */
  async start(): Promise<void> {
    this.store = await ProjectStore.open(`session:${this.session.id}`, (reason) => this.show(reason));
    this.store.on('changed', () => this.renderLocal());
    this.renderLocal();
    await this.refreshHost();
  }

  /** Who hosts now (`who`'s `file_host`); then the `file_host` pushes keep it current. */
  private async refreshHost(): Promise<void> {
    try {
      const list = await this.session.client.request('who', { session_id: this.session.id });
      this.renderShare(list.file_host?.peer_id ?? null);
    } catch (err) {
      this.fail('who hosts', err);
    }
  }

  /** The diff on screen (null: none), for tests. */
  shownDiff(): ShownDiff | null {
    const o = this.offer;
    if (!o) return null;
    const still = (paths: readonly string[]) => paths.filter((p) => o.open.has(p));
    return { hostPeerId: o.hostPeerId, add: still(o.diff.add), update: still(o.diff.update), delete: still(o.diff.delete), unchanged: [...o.diff.unchanged] };
  }

  private fail(what: string, err: unknown): void {
    this.errors++;
    const e = ChorusError.from(err);
    this.show(`${what}: ${e.code}: ${e.message}`);
    this.status.textContent = `${what} failed (${e.code})`;
  }

  private async addTyped(rawPath: string, text: string): Promise<boolean> {
    const normal = normalizeFilePath(rawPath.trim());
    if (!normal.ok) {
      this.fail('add file', ChorusError.validation('path', `"${rawPath}" ${normal.reason}.`));
      return false;
    }
    await this.write(new Map([[normal.path, { bytes: new TextEncoder().encode(text), modified: Date.now() }]]));
    return true;
  }

  private async addUploads(input: HTMLInputElement): Promise<void> {
    const put = new Map<string, { bytes: Uint8Array; modified: number }>();
    for (const file of Array.from(input.files ?? [])) {
      const normal = normalizeFilePath(file.webkitRelativePath || file.name);
      if (!normal.ok) {
        this.fail('add file', ChorusError.validation('path', `"${file.name}" ${normal.reason}.`));
        continue;
      }
      put.set(normal.path, { bytes: new Uint8Array(await file.arrayBuffer()), modified: file.lastModified });
    }
    input.value = '';
    await this.write(put);
  }

  private async write(put: ReadonlyMap<string, { bytes: Uint8Array; modified: number }>, remove: readonly string[] = []): Promise<void> {
    try {
      await this.store?.apply(put, remove);
    } catch (err) {
      this.fail('save', err);
    }
  }

  /** Shares this copy as the session's file host, or stops sharing it. */
  private async toggleShare(): Promise<void> {
    if (!this.store) return;
    try {
      if (this.host) {
        this.host.close();
        this.host = null;
        await this.session.client.request('unshare_project', { session_id: this.session.id });
        this.renderShare(null);
        return;
      }
      const host = new FileSyncHost(this.session, memorySource(this.store.files));
      host.on('error', (e) => this.fail('sharing', e));
      host.on('sent', ({ chunks }) => (this.status.textContent = `sent ${chunks} chunk(s) to a guest`));
      this.host = host;
      await host.share();
      this.renderShare(this.session.client.peerId);
    } catch (err) {
      this.host?.close();
      this.host = null;
      this.renderShare(null);
      this.fail('share', err);
    }
  }

  /** Asks the session's file host for its manifest, diffs it against this copy, fetches changed texts to show. */
  private async fetchManifest(): Promise<void> {
    if (!this.store || this.busy) return;
    this.setBusy(true, 'fetching the manifest…');
    try {
      const guest = new FileSyncGuest(this.session);
      const { manifest, hostPeerId, withheld } = await guest.fetchManifest();
      const diff = syncDiff((await this.store.manifest()).files, manifest.files);
      const offer: Offer = { manifest, hostPeerId, withheld, diff, open: new Set([...diff.add, ...diff.update, ...diff.delete]), hostTexts: new Map() };
      // Changed text files (this copy is text, the host's is small enough): the host's bytes, to show them side by side.
      const entries = new Map(manifest.files.map((f) => [f.path, f]));
      const previews = diff.update.filter((p) => {
        const mine = this.store?.get(p);
        return (entries.get(p)?.size ?? Infinity) <= PREVIEW_MAX_BYTES && mine !== undefined && textOf(mine.bytes) !== null;
      });
      if (previews.length > 0) {
        this.status.textContent = `fetching ${previews.length} changed file(s) to compare…`;
        for (const [path, bytes] of await guest.download(manifest, previews, { hostPeerId })) {
          const text = textOf(bytes);
          if (text !== null) offer.hostTexts.set(path, text);
        }
      }
      this.offer = offer;
      this.status.textContent = offer.open.size === 0 ? 'up to date with the host' : `${offer.open.size} change(s) from the host`;
    } catch (err) {
      this.fail('fetch manifest', err);
    } finally {
      this.setBusy(false);
      this.renderOffer();
    }
  }

  /** Accepts `paths` of the offer: downloads the added and changed ones (verified), removes the deleted ones. */
  private async accept(paths: readonly string[]): Promise<void> {
    const o = this.offer;
    if (!o || !this.store || this.busy) return;
    const wanted = paths.filter((p) => o.open.has(p));
    const gone = new Set(o.diff.delete);
    const fetch = wanted.filter((p) => !gone.has(p));
    const remove = wanted.filter((p) => gone.has(p));
    this.setBusy(true, `downloading ${fetch.length} file(s)…`);
    try {
      const put = new Map<string, { bytes: Uint8Array; modified: number }>();
      if (fetch.length > 0) {
        const guest = new FileSyncGuest(this.session);
        guest.on('progress', (p) => this.renderProgress(p));
        const entries = new Map(o.manifest.files.map((f) => [f.path, f]));
        for (const [path, bytes] of await guest.download(o.manifest, fetch, { hostPeerId: o.hostPeerId })) put.set(path, { bytes, modified: modifiedOf((entries.get(path) as ManifestEntry).modified) });
      }
      await this.store.apply(put, remove);
      for (const p of wanted) o.open.delete(p);
      this.status.textContent = `accepted ${wanted.length} change(s)${o.open.size > 0 ? `; ${o.open.size} left` : ': up to date with the host'}`;
      if (o.open.size === 0) this.offer = null;
    } catch (err) {
      this.fail('accept', err);
    } finally {
      this.setBusy(false);
      this.renderOffer();
    }
  }

  /** Rejects `paths` of the offer (all by default): this copy stays as it is. */
  private reject(paths?: readonly string[]): void {
    const o = this.offer;
    if (!o || this.busy) return;
    const rejected = paths ?? [...o.open];
    for (const p of rejected) o.open.delete(p);
    this.status.textContent = `rejected ${rejected.length} change(s); this copy is unchanged`;
    if (o.open.size === 0) this.offer = null;
    this.renderOffer();
  }

  private setBusy(busy: boolean, status?: string): void {
    this.busy = busy;
    this.root.dataset.busy = String(busy);
    this.fetchButton.disabled = busy;
    for (const b of this.offerView.querySelectorAll('button')) b.disabled = busy;
    if (status) this.status.textContent = status;
    if (busy) {
      this.progress.value = 0;
      this.progress.dataset.bytes = '0';
    }
  }

  private renderProgress(p: DownloadProgress): void {
    this.progress.hidden = false;
    this.progress.max = Math.max(1, p.totalBytes);
    this.progress.value = p.bytes;
    this.progress.dataset.bytes = String(p.bytes);
    this.progress.dataset.totalBytes = String(p.totalBytes);
    this.progress.dataset.files = `${p.files}/${p.totalFiles}`;
    this.status.textContent = `downloading ${sizeOf(p.bytes)} / ${sizeOf(p.totalBytes)} · ${p.files}/${p.totalFiles} file(s)`;
  }

  private renderShare(hostPeerId: string | null): void {
    this.hostPeerId = hostPeerId;
    const mine = this.host !== null;
    this.shareButton.textContent = mine ? 'Stop sharing' : 'Share these files';
    this.shareButton.dataset.sharing = String(mine);
    const who = hostPeerId === null ? null : hostPeerId === this.session.client.peerId ? 'you' : (this.session.presence.get(hostPeerId)?.display_name ?? hostPeerId);
    this.shareState.dataset.host = hostPeerId ?? '';
    this.shareState.textContent = mine ? `you share ${this.store?.files.size ?? 0} file(s)` : who ? `shared by ${who}` : '';
  }

  private renderLocal(): void {
    const files = this.store?.list() ?? [];
    replaceChildren(
      this.localList,
      ...files.map((f) => h('li', { 'data-path': f.path, 'data-hash': f.hash }, h('span', { class: 'path' }, f.path), ' ', h('span', { class: 'size' }, sizeOf(f.bytes.length)), ' ', hashShort(f.hash))),
      files.length === 0 && h('li', { class: 'empty' }, 'No files yet: add some, or fetch them from the host.'),
    );
    if (this.host) this.renderShare(this.session.client.peerId);
  }

  private renderOffer(): void {
    const o = this.offer;
    if (!o) return replaceChildren(this.offerView);
    const hostName = o.hostPeerId === this.session.client.peerId ? 'you' : (this.session.presence.get(o.hostPeerId)?.display_name ?? o.hostPeerId);
    const manifestRows = o.manifest.files.map((f) =>
      h('tr', { 'data-path': f.path }, h('td', {}, f.path), h('td', {}, sizeOf(f.size)), h('td', {}, new Date(modifiedOf(f.modified)).toLocaleString()), h('td', {}, hashShort(f.hash))),
    );
    const remote = new Map(o.manifest.files.map((f) => [f.path, f]));
    const changes: Array<[Change, string]> = [...o.diff.add.map((p) => ['add', p] as [Change, string]), ...o.diff.update.map((p) => ['update', p] as [Change, string]), ...o.diff.delete.map((p) => ['delete', p] as [Change, string])].filter(([, p]) => o.open.has(p));
    replaceChildren(
      this.offerView,
      h('h4', {}, `The host's manifest (${hostName}, ${o.manifest.files.length} file(s))`),
      ...(o.withheld > 0 ? [h('p', { class: 'withheld', 'data-testid': 'withheld' }, `${o.withheld} file(s) withheld by rules`)] : []),
      h('table', { class: 'host-manifest', 'data-testid': 'host-manifest' }, h('tr', {}, h('th', {}, 'path'), h('th', {}, 'size'), h('th', {}, 'modified'), h('th', {}, 'sha256')), ...manifestRows),
      h('h4', {}, `Changes (${changes.length}; ${o.diff.unchanged.length} unchanged)`),
      h('ul', { class: 'sync-diff', 'data-testid': 'sync-diff' }, ...changes.map(([change, path]) => this.changeItem(change, path, this.store?.get(path), remote.get(path), o.hostTexts.get(path)))),
      h(
        'div',
        { class: 'project-actions' },
        h('button', { 'data-testid': 'accept-all', onclick: () => void this.accept([...o.open]) }, 'Accept all'),
        h('button', { 'data-testid': 'reject-all', onclick: () => this.reject() }, 'Reject all'),
      ),
    );
  }

  private changeItem(change: Change, path: string, local: ProjectFile | undefined, remote: ManifestEntry | undefined, hostText: string | undefined): HTMLElement {
    const label = { add: 'added', update: 'changed', delete: 'deleted' }[change];
    const facts = (who: string, size: number, hash: string) => h('span', { class: 'facts' }, `${who}: ${sizeOf(size)} `, hashShort(hash));
    const localText = local ? textOf(local.bytes) : null;
    return h(
      'li',
      { class: `change ${change}`, 'data-change': change, 'data-path': path, 'data-view': hostText !== undefined && localText !== null ? 'side-by-side' : 'sizes' },
      h('span', { class: `badge change-${change}` }, label),
      ' ',
      h('span', { class: 'path' }, path),
      ' ',
      local && facts('this copy', local.bytes.length, local.hash),
      ' ',
      remote && facts('host', remote.size, remote.hash),
      h('button', { class: 'change-action', 'data-testid': 'accept-file', onclick: () => void this.accept([path]) }, 'Accept'),
      h('button', { class: 'change-action', 'data-testid': 'reject-file', onclick: () => this.reject([path]) }, 'Reject'),
      hostText !== undefined &&
        localText !== null &&
        sideBySide(
          [
            { title: `This copy (${sizeOf(local?.bytes.length ?? 0)})`, body: textPane(localText, 'diff-local') },
            { title: `Host (${sizeOf(remote?.size ?? 0)})`, body: textPane(hostText, 'diff-host') },
          ],
          'project-sides',
        ),
    );
  }
}
