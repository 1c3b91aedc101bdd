import { defaultKeymap } from '@codemirror/commands';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap, lineNumbers } from '@codemirror/view';
import type { ChorusSession } from '@chorus/client';
import { YjsProvider } from '@chorus/client/yjs';
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next';
import * as Y from 'yjs';
import { colorOf } from './colors';

// A Yjs document of the session in CodeMirror, through y-codemirror.next: the editor is bound to the Y.Text
// `codemirror` (the name y-websocket examples use, so a stock provider sees the same text), remote cursors come
// from the provider's awareness (y-codemirror.next draws them: `.cm-ySelectionCaret`, the name in
// `.cm-ySelectionInfo`). The SDK's YjsProvider syncs it over the session's connection; every update is
// acknowledged once durable (`acked`).

/** The shared text's name inside the Y.Doc. */
export const YJS_TEXT = 'codemirror';

/** A remote cursor as the awareness holds it. */
export interface YjsCursor {
  clientId: number;
  name: string;
  /** Whether it has a position in the text (a relative position y-codemirror.next can draw). */
  placed: boolean;
}

export class YjsEditor {
  readonly ydoc = new Y.Doc();
  readonly text = this.ydoc.getText(YJS_TEXT);
  readonly provider: YjsProvider;
  readonly undo = new Y.UndoManager(this.text);
  view: EditorView | null = null;

  constructor(
    private readonly parent: HTMLElement,
    readonly session: ChorusSession,
    readonly docId: string,
    user: { peerId: string; name: string },
    private readonly onError: (message: string) => void,
  ) {
    this.provider = new YjsProvider(session, docId, this.ydoc);
    this.provider.awareness.setLocalStateField('user', { name: user.name, color: colorOf(user.peerId), colorLight: `${colorOf(user.peerId)}33`, peerId: user.peerId });
    this.provider.on('error', ({ error }) => this.onError(`${docId}: ${error.message}`));
  }

  /** Syncs (the stored state arrives in the Y.Doc), then shows the editor bound to it. */
  async start(): Promise<void> {
    await this.provider.connect();
    this.view = new EditorView({
      parent: this.parent,
      state: EditorState.create({
        doc: this.text.toString(),
        extensions: [
          lineNumbers(),
          keymap.of([...yUndoManagerKeymap, ...defaultKeymap]),
          EditorView.lineWrapping,
          yCollab(this.text, this.provider.awareness, { undoManager: this.undo }),
        ],
      }),
    });
  }

  get synced(): boolean {
    return this.provider.synced;
  }

  /** The other clients' awareness states (their names, whether they have a cursor in the text). */
  cursors(): YjsCursor[] {
    const out: YjsCursor[] = [];
    for (const [clientId, state] of this.provider.awareness.getStates()) {
      if (clientId === this.ydoc.clientID) continue;
      const user = (state as { user?: { name?: unknown } }).user;
      out.push({ clientId, name: typeof user?.name === 'string' ? user.name : '', placed: (state as { cursor?: unknown }).cursor != null });
    }
    return out;
  }

  destroy(): void {
    this.view?.destroy();
    void this.provider.destroy();
    this.undo.destroy();
  }
}
