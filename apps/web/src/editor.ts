import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { Annotation, Compartment, EditorState, StateEffect, StateField, type Range } from '@codemirror/state';
import { Decoration, EditorView, WidgetType, keymap, lineNumbers, type DecorationSet } from '@codemirror/view';
import { selectionToUtf16, type ChorusDocument, type Utf16Change } from '@chorus/client';
import { colorOf } from './colors';

// The binding between one ChorusDocument and one CodeMirror view. The invariant: the editor's text is always
// `doc.text`. Local transactions go to the SDK (`editUtf16`) as they happen; remote ops arrive as UTF-16
// changes of the text before them and are dispatched marked `remote`, so they are never sent back.

const remote = Annotation.define<boolean>();

/** A remote cursor as drawn: UTF-16 offsets of the editor's text. */
export interface DrawnCursor {
  peerId: string;
  name: string;
  anchor: number;
  head: number;
}

const setCursors = StateEffect.define<DrawnCursor[]>();

class CaretWidget extends WidgetType {
  constructor(
    readonly peerId: string,
    readonly name: string,
  ) {
    super();
  }
  override eq(other: CaretWidget): boolean {
    return other.peerId === this.peerId && other.name === this.name;
  }
  toDOM(): HTMLElement {
    const caret = document.createElement('span');
    caret.className = 'remote-caret';
    caret.dataset.peer = this.peerId;
    caret.style.borderColor = colorOf(this.peerId);
    const label = document.createElement('span');
    label.className = 'remote-caret-label';
    label.textContent = this.name;
    label.style.background = colorOf(this.peerId);
    caret.appendChild(label);
    return caret;
  }
  override ignoreEvent(): boolean {
    return true;
  }
}

/** The drawn cursors and their decorations; moved through local edits until the SDK's next positions. */
const cursorField = StateField.define<{ cursors: DrawnCursor[]; decorations: DecorationSet }>({
  create: () => ({ cursors: [], decorations: Decoration.none }),
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setCursors)) return { cursors: e.value, decorations: decorationsOf(e.value, tr.state.doc.length) };
    if (!tr.docChanged) return value;
    const cursors = value.cursors.map((c) => ({ ...c, anchor: tr.changes.mapPos(c.anchor), head: tr.changes.mapPos(c.head) }));
    return { cursors, decorations: value.decorations.map(tr.changes) };
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.decorations),
});

function decorationsOf(cursors: DrawnCursor[], length: number): DecorationSet {
  const ranges: Range<Decoration>[] = [];
  for (const c of cursors) {
    const head = Math.min(c.head, length);
    const anchor = Math.min(c.anchor, length);
    const from = Math.min(head, anchor);
    const to = Math.max(head, anchor);
    if (from < to) ranges.push(Decoration.mark({ class: 'remote-selection', attributes: { style: `background: ${colorOf(c.peerId)}33`, 'data-peer': c.peerId } }).range(from, to));
    ranges.push(Decoration.widget({ widget: new CaretWidget(c.peerId, c.name), side: 1 }).range(head));
  }
  return Decoration.set(ranges, true);
}

export interface EditorHooks {
  /** The user moved the caret or the selection; `typed`: by editing the text. */
  onLocalSelection(typed: boolean): void;
  onLocalEdit(): void;
  /** A remote change was rendered (for the latency probe): the peer and the characters it inserted. */
  onRemoteRendered?(peerId: string, inserted: number): void;
}

export class DocumentEditor {
  readonly view: EditorView;
  private readonly readOnly = new Compartment();
  private readonly unsubscribe: Array<() => void> = [];
  private refreshQueued = false;

  constructor(
    parent: HTMLElement,
    private readonly doc: ChorusDocument,
    private readonly hooks: EditorHooks,
  ) {
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc: doc.text,
        extensions: [
          lineNumbers(),
          history(),
          keymap.of([...defaultKeymap, ...historyKeymap]),
          EditorView.lineWrapping,
          cursorField,
          this.readOnly.of(EditorState.readOnly.of(this.lockedByOther())),
          EditorView.updateListener.of((update) => {
            for (const tr of update.transactions) {
              if (!tr.docChanged || tr.annotation(remote)) continue;
              // Changes of one transaction are relative to the text before it: send them last to first, so each
              // offset is still valid in the SDK's text when it is applied.
              const changes: Utf16Change[] = [];
              tr.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => changes.push({ from: fromA, to: toA, insert: inserted.toString() }));
              for (const change of changes.reverse()) this.doc.editUtf16(change);
              this.hooks.onLocalEdit();
            }
            // Only the user's own moves are reported: a remote op moves our cursor on every screen by the same
            // tie rule, and a redraw of remote cursors is no move at all.
            const local = update.transactions.filter((tr) => (tr.docChanged || tr.selection !== undefined) && !tr.annotation(remote));
            if (local.length > 0) this.hooks.onLocalSelection(local.some((tr) => tr.docChanged));
          }),
        ],
      }),
    });
    this.unsubscribe.push(
      doc.on('change', ({ changes, peerId }) => {
        this.view.dispatch({ changes, annotations: [remote.of(true)] });
        this.checkInSync();
        const inserted = changes.reduce((n, c) => n + c.insert.length, 0);
        if (this.hooks.onRemoteRendered) requestAnimationFrame(() => this.hooks.onRemoteRendered?.(peerId, inserted));
        this.queueCursorRefresh();
      }),
      doc.on('reload', ({ text }) => {
        this.replaceAll(text);
        this.queueCursorRefresh();
      }),
      doc.on('cursors', () => this.queueCursorRefresh()),
      doc.session.on('presence', () => this.queueCursorRefresh()),
      doc.on('lock', () => this.view.dispatch({ effects: this.readOnly.reconfigure(EditorState.readOnly.of(this.lockedByOther())) })),
    );
    this.queueCursorRefresh();
  }

  /** The remote cursors as drawn now (UTF-16 offsets of the editor's text). */
  drawnCursors(): DrawnCursor[] {
    return this.view.state.field(cursorField).cursors;
  }

  destroy(): void {
    for (const u of this.unsubscribe) u();
    this.view.destroy();
  }

  private lockedByOther(): boolean {
    const lock = this.doc.lock;
    return lock !== null && lock.peerId !== this.doc.session.client.peerId;
  }

  /**
   * Redraws the remote cursors from the SDK (positions in code points, moved by the server's tie rule). Queued:
   * the SDK reports cursor moves while CodeMirror may be in the middle of an update, and before the matching
   * text change has been dispatched.
   */
  private queueCursorRefresh(): void {
    if (this.refreshQueued) return;
    this.refreshQueued = true;
    queueMicrotask(() => {
      this.refreshQueued = false;
      const text = this.doc.text;
      const cursors = this.doc.cursors().map((c) => ({ peerId: c.peerId, name: c.displayName, ...selectionToUtf16(text, c.selection) }));
      this.view.dispatch({ effects: setCursors.of(cursors) });
    });
  }

  /** The invariant, checked cheaply after every remote change; repaired (and reported) if it ever breaks. */
  private checkInSync(): void {
    if (this.view.state.doc.length === this.doc.text.length) return;
    // eslint-disable-next-line no-console -- the browser's console is where an app reports what it repaired
    console.error(`[chorus] editor out of sync with ${this.doc.id}: replaced with the document's text`);
    this.replaceAll(this.doc.text);
  }

  private replaceAll(text: string): void {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: text }, annotations: [remote.of(true)] });
  }
}
