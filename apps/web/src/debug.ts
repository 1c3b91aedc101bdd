import type { ChorusClient } from '@chorus/client';
import type { SessionView } from './session-view';

// A read-only window onto the app for the browser tests and the benchmark (window.chorusDebug): what the editor
// shows, what the SDK holds, and the latency probe. Nothing here changes the app's behaviour.

const now = () => performance.timeOrigin + performance.now();

/**
 * Keystroke → render timing, off until `start()`: the time of every keydown typed here, and for every remote
 * peer the time each of its inserted characters was rendered (the frame after the change was dispatched). With
 * insert-only typing, a peer's k-th rendered character is its k-th keystroke.
 */
export class LatencyProbe {
  private on = false;
  keys: number[] = [];
  rendered: Record<string, number[]> = {};

  start(): void {
    this.on = true;
    this.keys = [];
    this.rendered = {};
    document.addEventListener('keydown', (e) => {
      if (this.on && (e.key.length === 1 || e.key === 'Enter')) this.keys.push(now());
    }, { capture: true });
  }

  remoteRendered(peerId: string, inserted: number): void {
    if (!this.on) return;
    const t = now();
    const list = (this.rendered[peerId] ??= []);
    for (let i = 0; i < inserted; i++) list.push(t);
  }
}

export function exposeDebug(state: () => { client: ChorusClient | null; view: SessionView | null }, probe: LatencyProbe): void {
  const debug = {
    peerId: () => state().client?.peerId ?? null,
    url: () => state().client?.url ?? null,
    connection: () => state().client?.state ?? null,
    sessionState: () => state().view?.session.state ?? null,
    editorText: () => (state().view?.yjsEditor?.view ?? state().view?.editor?.view)?.state.doc.toString() ?? null,
    docText: () => state().view?.doc?.text ?? null,
    version: () => state().view?.doc?.version ?? null,
    pending: () => state().view?.doc?.pending ?? null,
    drawnCursors: () => state().view?.editor?.drawnCursors() ?? [],
    /** This user's own caret in the editor (UTF-16). */
    ownSelection: () => {
      const main = state().view?.editor?.view.state.selection.main;
      return main ? { anchor: main.anchor, head: main.head } : null;
    },
    /** The other peers' cursors as the SDK holds them (code points). */
    sdkCursors: () => state().view?.doc?.cursors().map((c) => ({ peerId: c.peerId, ...c.selection })) ?? [],
    transport: () => state().client?.transport ?? null,
    channelEvents: () => state().view?.channels.events() ?? [],
    chat: () => state().view?.chatMessages().map((m) => ({ seq: m.seq, message: m.message, peer_id: m.peer_id })) ?? [],
    /** The open Yjs document (yjs-editor.ts): its kind, the Y.Text, sync, and the other clients' awareness. */
    kind: () => (state().view?.yjsEditor ? 'yjs' : state().view?.editor ? 'text' : null),
    yjsText: () => state().view?.yjsEditor?.text.toString() ?? null,
    yjsSynced: () => state().view?.yjsEditor?.synced ?? null,
    yjsCursors: () => state().view?.yjsEditor?.cursors() ?? [],
    /** The open Yjs document's versions panel (yjs-versions-panel.ts): the list, the preview, the status. */
    yjsVersions: () => state().view?.yjsVersions?.shown() ?? null,
    yjsVersionErrors: () => state().view?.yjsVersions?.errors ?? 0,
    /** The project files panel (project-files.ts): this copy's sha256 by path, recomputed from its bytes; the diff shown. */
    projectHashes: () => state().view?.projectFiles.store?.verify() ?? Promise.resolve(null),
    projectDiff: () => state().view?.projectFiles.shownDiff() ?? null,
    projectErrors: () => state().view?.projectFiles.errors ?? 0,
    probe,
  };
  (window as unknown as { chorusDebug: typeof debug }).chorusDebug = debug;
}
