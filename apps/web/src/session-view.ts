import { selectionFromUtf16, type ChatMessage, type ChorusClient, type ChorusDocument, type ChorusSession, type PresenceView } from '@chorus/client';
import type { Role } from '@chorus/protocol';
import { ChannelsPanel } from './channels-panel';
import { colorOf } from './colors';
import { ConflictsPanel } from './conflicts';
import { h, replaceChildren } from './dom';
import { DocumentEditor } from './editor';
import { AgentPanel } from './agent-panel';
import { InvitesPanel } from './invites-panel';
import { MANAGERS, SettingsPanel } from './settings-panel';
import { ProjectFilesPanel } from './project-files';
import { VoicePanel } from './voice-panel';
import { YjsEditor } from './yjs-editor';
import { YjsVersionsPanel } from './yjs-versions-panel';

// One session on screen: the files, the editor of the open one (with its lock bar), who is here, and chat.

const DEFAULT_FILE = 'main.txt';
const PRESENCE_EVERY_MS = 50;
const TYPING_PAUSE_MS = 300;
const TYPING_EVERY_MS = 2_000;

export class SessionView {
  readonly root: HTMLElement;
  editor: DocumentEditor | null = null;
  doc: ChorusDocument | null = null;
  /** The open file's editor when it is a Yjs document (yjs-editor.ts); then `editor` and `doc` are null. */
  yjsEditor: YjsEditor | null = null;
  /** The version history of the open Yjs document (yjs-versions-panel.ts), under its editor. */
  yjsVersions: YjsVersionsPanel | null = null;
  /** Our role in the session as last read (settings), null until known. */
  private role: Role | null = null;
  private readonly chatList = h('ul', { class: 'chat-list', 'data-testid': 'chat-list' });
  private readonly peerList = h('ul', { class: 'peer-list', 'data-testid': 'peer-list' });
  private readonly fileList = h('ul', { class: 'file-list', 'data-testid': 'file-list' });
  private readonly lockBar = h('div', { class: 'lock-bar', 'data-testid': 'lock-bar' });
  private readonly editorHost = h('div', { class: 'editor', 'data-testid': 'editor' });
  private readonly status = h('span', { class: 'conn', 'data-testid': 'conn-state' });
  private readonly notice = h('div', { class: 'notice', 'data-testid': 'notice' });
  private readonly inviteOut = h('input', { class: 'invite-link', 'data-testid': 'invite-link', readonly: true, placeholder: 'invite link' });
  private readonly title = h('span', { class: 'session-name', 'data-testid': 'session-title' });
  private readonly inviteButton = h('button', { 'data-testid': 'invite', onclick: () => void this.invite() }, 'Copy invite link');
  private readonly openFiles = new Set<string>([DEFAULT_FILE]);
  private presenceTimer: ReturnType<typeof setTimeout> | null = null;
  private selectionDirty = false;
  private lastTyping = 0;
  private readonly chats: ChatMessage[] = [];
  private readonly conflicts: ConflictsPanel;
  private readonly agents: AgentPanel;
  private readonly voice: VoicePanel;
  /** The channels panel (diagnostics, ai-response, … live). */
  readonly channels: ChannelsPanel;
  /** Session settings and invites (settings-panel.ts, invites-panel.ts; docs/session-admin.md). */
  readonly settings: SettingsPanel;
  readonly invites: InvitesPanel;
  /** This browser's copy of the project, shared as the file host or synced from it (project-files.ts). */
  readonly projectFiles: ProjectFilesPanel;

  constructor(
    readonly client: ChorusClient,
    readonly session: ChorusSession,
    private readonly onRemoteRendered?: (peerId: string, inserted: number) => void,
  ) {
    this.agents = new AgentPanel(session, (m) => this.show(m));
    this.voice = new VoicePanel(session, () => client.peerId ?? '', (m) => this.show(m));
    this.channels = new ChannelsPanel(session);
    this.projectFiles = new ProjectFilesPanel(session, (m) => this.show(m));
    this.invites = new InvitesPanel(client, session);
    this.settings = new SettingsPanel(client, session, (info) => {
      this.title.textContent = info.name;
      this.invites.setRole(info.my_role);
      this.role = info.my_role;
      this.yjsVersions?.setRole(info.my_role);
      // Creating invites is for owners and admins (`invite.create`): the others do not get the button.
      const manager = info.my_role !== null && MANAGERS.includes(info.my_role);
      this.inviteButton.hidden = !manager;
      this.inviteOut.hidden = !manager;
    });
    const chatInput = h('input', { name: 'message', 'data-testid': 'chat-input', placeholder: 'Say something', autocomplete: 'off' });
    const chatForm = h(
      'form',
      {
        class: 'chat-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const text = chatInput.value.trim();
          if (text === '') return;
          chatInput.value = '';
          // Idempotent in the SDK (client_msg_id): sent now, or when the connection is back, exactly once.
          this.session.sendChat(text).catch((err: unknown) => this.show(`chat not sent: ${(err as Error).message}`));
        },
      },
      chatInput,
      h('button', { type: 'submit' }, 'Send'),
    );
    const fileInput = h('input', { name: 'file', 'data-testid': 'file-input', placeholder: 'path/to/file.ts' });
    // The kind of a file is chosen when it is created: OT text, or a Yjs document. An existing file opens as what it is.
    const kindInput = h('select', { name: 'kind', 'data-testid': 'file-kind', title: 'kind of a new file' }, h('option', { value: 'text' }, 'text (OT)'), h('option', { value: 'yjs' }, 'yjs'));
    const fileForm = h(
      'form',
      {
        class: 'file-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const path = fileInput.value.trim();
          if (path !== '') void this.open(path, kindInput.value === 'yjs' ? 'yjs' : 'text');
          fileInput.value = '';
        },
      },
      fileInput,
      kindInput,
      h('button', { type: 'submit' }, 'Open'),
    );
    this.conflicts = new ConflictsPanel(session, (message) => this.show(message));
    this.root = h(
      'div',
      { class: 'session' },
      h(
        'header',
        {},
        h('strong', {}, 'Chorus'),
        this.title,
        h('span', { class: 'session-id', 'data-testid': 'session-id' }, session.id),
        this.status,
        this.inviteButton,
        this.inviteOut,
      ),
      this.notice,
      h('details', { class: 'admin', 'data-testid': 'admin' }, h('summary', { 'data-testid': 'admin-toggle' }, 'Settings and invites'), h('div', { class: 'admin-panels' }, this.settings.root, this.invites.root)),
      h('div', { class: 'columns' }, h('aside', { class: 'files' }, h('h3', {}, 'Files'), this.fileList, fileForm), h('main', {}, this.lockBar, this.editorHost, this.conflicts.root, this.projectFiles.root), h('aside', { class: 'side' }, h('h3', {}, 'People'), this.peerList, this.voice.root, h('h3', {}, 'Chat'), this.chatList, chatForm, this.channels.root, this.agents.root)),
    );
    client.on('state', ({ state }) => this.renderStatus(state));
    client.on('hello', () => this.renderStatus(client.state));
    session.on('presence', () => this.renderPeers());
    session.on('typing', () => this.renderPeers());
    session.on('chat', (m) => this.addChat(m));
    session.on('chat_edited', ({ seq, message }) => this.changeChat(seq, message, 'edited'));
    session.on('chat_deleted', ({ seq }) => this.changeChat(seq, '', 'deleted'));
    session.on('locks', () => this.renderFiles());
    session.on('ended', ({ reason }) => this.show(`You left this session: ${reason}`));
    session.on('error', (e) => this.show(`${e.code}: ${e.message}`));
    this.renderStatus(client.state);
  }

  /** Joins and opens the default file. */
  async start(): Promise<void> {
    await this.session.join();
    this.renderPeers();
    void this.settings.load();
    void this.conflicts.refresh();
    void this.listYjsFiles();
    void this.projectFiles.start().catch((err: unknown) => this.show(`project files: ${(err as Error).message}`));
    await Promise.all([this.open(DEFAULT_FILE), this.channels.start()]);
  }

  /**
   * Opens a file, as `kind` if it does not exist yet. The server knows the kind of an existing one: opening a Yjs
   * document as text (or the reverse) is CONFLICT, and the app opens it as the other kind.
   */
  async open(path: string, kind: 'text' | 'yjs' = this.fileKinds.get(path) ?? 'text'): Promise<void> {
    this.openFiles.add(path);
    if (kind === 'yjs') return this.openYjs(path);
    let doc: ChorusDocument;
    try {
      doc = await this.session.document(path);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'CONFLICT') throw err;
      return this.openYjs(path);
    }
    this.fileKinds.set(path, 'text');
    this.closeEditors();
    this.editorHost.dataset.kind = 'text';
    this.doc = doc;
    this.editor = new DocumentEditor(this.editorHost, doc, {
      onLocalSelection: (typed) => this.reportSelection(typed),
      onLocalEdit: () => this.reportTyping(),
      onRemoteRendered: this.onRemoteRendered,
    });
    doc.on('ack', () => {
      if (this.selectionDirty && !doc.pending && this.doc === doc && !this.presenceTimer) this.reportSelection(false);
    });
    doc.on('lock', () => this.renderLock());
    doc.on('reload', ({ reason, discarded }) => this.show(`Reloaded ${path} from the server (${reason})${discarded ? ': your last edits were not saved' : ''}`));
    this.renderLock();
    this.renderFiles();
    await this.session.setPresence({ active_file: path, doc_id: path, selection: { anchor: 0, head: 0 } });
  }

  /** Known kinds of the files listed (learned when opened). */
  private readonly fileKinds = new Map<string, 'text' | 'yjs'>();

  /** The session's Yjs documents go into the file list, marked as such (GET …/yjs-documents, docs/yjs.md). */
  private async listYjsFiles(): Promise<void> {
    try {
      const { doc_ids: ids } = await this.client.rest.call<{ doc_ids: string[] }>('GET', `/collaboration/sessions/${encodeURIComponent(this.session.id)}/yjs-documents`);
      for (const id of ids) {
        this.openFiles.add(id);
        this.fileKinds.set(id, 'yjs');
      }
      this.renderFiles();
    } catch (err) {
      this.show(`Yjs documents not listed: ${(err as Error).message}`);
    }
  }

  private async openYjs(path: string): Promise<void> {
    const me = this.client.peerId ?? '';
    const editor = new YjsEditor(this.editorHost, this.session, path, { peerId: me, name: this.session.presence.get(me)?.display_name ?? me }, (m) => this.show(m));
    try {
      await editor.start();
    } catch (err) {
      editor.destroy();
      if ((err as { code?: unknown }).code === 'CONFLICT' && this.fileKinds.get(path) !== 'text') {
        this.fileKinds.set(path, 'text');
        return this.open(path, 'text');
      }
      throw err;
    }
    this.fileKinds.set(path, 'yjs');
    this.closeEditors();
    this.editorHost.appendChild(editor.view?.dom as HTMLElement);
    this.yjsEditor = editor;
    this.yjsVersions = new YjsVersionsPanel(editor.provider.versions, this.role, (m) => this.show(m), (userId) => this.nameOf(userId));
    this.editorHost.after(this.yjsVersions.root);
    void this.yjsVersions.refresh();
    this.editorHost.dataset.kind = 'yjs';
    this.lockBar.dataset.locked = 'none';
    replaceChildren(this.lockBar, 'Yjs document: merged by the CRDT, no locks');
    this.renderFiles();
    await this.session.setPresence({ active_file: path, doc_id: path, selection: { anchor: 0, head: 0 } });
  }

  private closeEditors(): void {
    this.editor?.destroy();
    this.editor = null;
    this.doc = null;
    this.yjsEditor?.destroy();
    this.yjsEditor = null;
    this.yjsVersions?.destroy();
    this.yjsVersions = null;
  }

  /** A user's display name as the session knows it (participants, then presence), else the id. */
  private nameOf(userId: string): string {
    return this.session.participants.find((p) => p.user_id === userId)?.display_name ?? this.session.presence.peers().find((p) => p.user_id === userId)?.display_name ?? userId;
  }

  /**
   * Our caret moved: report it, and only while every local edit is acknowledged. The wire selection counts code
   * points of the server's version the client has; with edits in flight the local text is ahead of it, so the
   * report waits for the ack. A move (click, arrows) goes out within 50 ms; while typing, the others already move
   * our cursor through our ops by the tie rule, so the report waits until typing pauses for 300 ms (with ten
   * people typing, a report per keystroke would be most of the traffic). The selection is read from the editor
   * when it is sent, never an older one.
   */
  private reportSelection(typed: boolean): void {
    this.selectionDirty = true;
    if (typed) {
      if (this.presenceTimer) clearTimeout(this.presenceTimer);
    } else if (this.presenceTimer) {
      return;
    }
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = null;
      this.flushSelection();
    }, typed ? TYPING_PAUSE_MS : PRESENCE_EVERY_MS);
  }

  private flushSelection(): void {
    const doc = this.doc;
    const editor = this.editor;
    if (!doc || !editor || !this.selectionDirty || doc.pending) return;
    this.selectionDirty = false;
    const main = editor.view.state.selection.main;
    const selection = selectionFromUtf16(doc.text, { anchor: main.anchor, head: main.head });
    this.session.setPresence({ doc_id: doc.id, active_file: doc.id, selection }).catch((err: unknown) => this.show(`presence not sent: ${(err as Error).message}`));
  }

  private reportTyping(): void {
    const now = Date.now();
    if (now - this.lastTyping < TYPING_EVERY_MS || !this.doc) return;
    this.lastTyping = now;
    this.session.typing(this.doc.id).catch((err: unknown) => this.show(`typing not sent: ${(err as Error).message}`));
  }

  private async invite(): Promise<void> {
    try {
      const invite = await this.client.rest.createInvite(this.session.id, { role: 'editor' });
      // The link lands on this app, wherever the server's PUBLIC_URL points.
      const link = `${location.origin}/join/${encodeURIComponent(invite.token)}`;
      this.inviteOut.value = link;
      this.inviteOut.dataset.code = invite.code;
      await navigator.clipboard?.writeText(link).catch(() => this.show('Copy the link from the box (clipboard refused).'));
    } catch (err) {
      this.show(`invite failed: ${(err as Error).message}`);
    }
  }

  private show(message: string): void {
    this.notice.textContent = message;
  }

  private renderStatus(state: string): void {
    this.status.textContent = state === 'connected' ? `connected · ${this.client.url}${this.client.transport === 'websocket' ? ' (/ws)' : ''}` : state;
    this.status.dataset.transport = this.client.transport;
    this.status.dataset.state = state;
    this.status.dataset.url = this.client.url;
  }

  private renderPeers(): void {
    const peers = this.session.presence.peers();
    replaceChildren(this.peerList, ...peers.map((p) => this.peerItem(p)));
    for (const p of peers) if (p.active_file) this.openFiles.add(p.active_file);
    this.renderFiles();
  }

  private peerItem(p: PresenceView): HTMLElement {
    const me = p.peer_id === this.client.peerId;
    return h(
      'li',
      { 'data-peer': p.peer_id, 'data-status': p.status, 'data-kind': p.kind, 'data-typing': p.typing !== null },
      h('span', { class: 'dot', style: `background: ${colorOf(p.peer_id)}` }),
      `${p.display_name}${me ? ' (you)' : ''}`,
      p.kind === 'agent' && h('span', { class: 'badge agent' }, 'agent'),
      h('span', { class: `badge ${p.status}` }, p.status),
      p.typing !== null && h('span', { class: 'badge typing' }, 'typing…'),
      p.active_file && h('span', { class: 'file' }, p.active_file),
    );
  }

  /** Every file someone has open or locked, with a lock mark (the session's locks, also of files not open here). */
  private renderFiles(): void {
    const current = this.doc?.id ?? this.yjsEditor?.docId;
    const locks = this.session.locks();
    for (const f of locks.keys()) this.openFiles.add(f);
    replaceChildren(
      this.fileList,
      ...[...this.openFiles].sort().map((f) => {
        const lock = locks.get(f);
        const holder = lock ? (lock.peerId === this.client.peerId ? 'you' : (this.session.presence.get(lock.peerId)?.display_name ?? lock.holderId)) : null;
        return h(
          'li',
          { class: f === current ? 'current' : undefined, 'data-file': f, 'data-locked': lock !== undefined, 'data-kind': this.fileKinds.get(f) ?? '' },
          h('a', { href: '#', onclick: (e: Event) => (e.preventDefault(), void this.open(f)) }, f),
          holder !== null && h('span', { class: 'badge lock', title: `locked by ${holder}` }, `locked: ${holder}`),
        );
      }),
    );
  }

  private renderLock(): void {
    const doc = this.doc;
    if (!doc) return;
    const lock = doc.lock;
    const mine = lock !== null && lock.peerId === this.client.peerId;
    const holder = lock ? (this.session.presence.get(lock.peerId)?.display_name ?? lock.holderId) : null;
    this.lockBar.dataset.locked = lock === null ? 'none' : mine ? 'mine' : 'other';
    replaceChildren(
      this.lockBar,
      lock === null ? 'Unlocked: anyone can edit' : mine ? `Locked by you until ${new Date(lock.expiresAt).toLocaleTimeString()}` : `Locked by ${holder}: read only`,
      lock === null && h('button', { onclick: () => void doc.lockFile().catch((err: unknown) => this.show(`lock: ${(err as Error).message}`)) }, 'Lock'),
      mine && h('button', { onclick: () => void doc.unlockFile().catch((err: unknown) => this.show(`unlock: ${(err as Error).message}`)) }, 'Unlock'),
    );
  }

  private addChat(m: ChatMessage): void {
    this.chats.push({ ...m });
    const text = h('span', { class: 'text', 'data-testid': 'chat-text' }, m.message);
    // One's own messages can be edited (in place: Enter saves, Escape cancels) and deleted.
    const edit = (): void => {
      const input = h('input', { 'data-testid': 'chat-edit-input', value: text.textContent ?? '' });
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') input.replaceWith(text);
        if (e.key !== 'Enter' || input.value.trim() === '') return;
        const value = input.value.trim();
        input.replaceWith(text);
        this.session.editChat(m.seq, value).catch((err: unknown) => this.show(`edit not saved: ${(err as Error).message}`));
      });
      text.replaceWith(input);
      input.focus();
    };
    const remove = (): void => void this.session.deleteChat(m.seq).catch((err: unknown) => this.show(`not deleted: ${(err as Error).message}`));
    this.chatList.appendChild(
      h(
        'li',
        { 'data-seq': m.seq, class: m.own ? 'own' : undefined },
        h('span', { class: 'who', style: `color: ${colorOf(m.peer_id)}` }, m.display_name),
        ' ',
        text,
        m.own && h('button', { class: 'chat-action', 'data-testid': 'chat-edit', title: 'Edit', onclick: edit }, 'edit'),
        m.own && h('button', { class: 'chat-action', 'data-testid': 'chat-delete', title: 'Delete', onclick: remove }, 'delete'),
      ),
    );
    this.chatList.scrollTop = this.chatList.scrollHeight;
  }

  /** A message was edited (its latest text) or deleted (a tombstone: its text and actions go). */
  private changeChat(seq: number, message: string, how: 'edited' | 'deleted'): void {
    const shown = this.chats.find((c) => c.seq === seq);
    if (shown) shown.message = message;
    const li = this.chatList.querySelector(`li[data-seq="${seq}"]`);
    const text = li?.querySelector('[data-testid="chat-text"]');
    if (!li || !text) return;
    li.setAttribute('data-state', how);
    text.textContent = how === 'deleted' ? 'message deleted' : message;
    if (how === 'deleted') li.querySelectorAll('button, input').forEach((el) => el.remove());
  }

  /** Chat messages as shown (for tests). */
  chatMessages(): ChatMessage[] {
    return [...this.chats];
  }
}
