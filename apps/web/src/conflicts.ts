import type { ChorusSession } from '@chorus/client';
import type { ConflictStrategy, ConflictView } from '@chorus/protocol';
import { h, replaceChildren } from './dom';
import { sideBySide, textPane } from './side-by-side';

/**
 * The session's open conflicts (docs/files.md), side by side: what the conflict's author wrote (mine), what the
 * concurrent edits made of the same region (theirs), and an editable merge — with the three choices. Refreshed
 * when a conflict is detected or resolved by anyone; resolving applies the choice as an op through the server,
 * so the editor follows through the document's ordinary op pushes.
 */
export class ConflictsPanel {
  readonly root = h('section', { class: 'conflicts', 'data-testid': 'conflicts' });
  private readonly list = h('ul', { class: 'conflict-list', 'data-testid': 'conflict-list' });
  private refreshing: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly session: ChorusSession,
    private readonly show: (message: string) => void,
  ) {
    replaceChildren(this.root, h('h3', {}, 'Conflicts'), this.list);
    session.files.on('conflictDetected', () => void this.refresh());
    session.files.on('conflictResolved', () => void this.refresh());
  }

  /** Reloads the open conflicts (one load at a time; a request during one runs once after it). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          const { conflicts } = await this.session.files.conflicts({ state: 'open' });
          this.render(conflicts);
        } catch (err) {
          this.show(`conflicts: ${(err as Error).message}`);
        }
      } while (this.again);
      this.refreshing = null;
    })();
    return this.refreshing;
  }

  private render(conflicts: ConflictView[]): void {
    this.root.hidden = conflicts.length === 0;
    replaceChildren(this.list, ...conflicts.map((c) => this.item(c)));
  }

  private item(c: ConflictView): HTMLElement {
    const merged = h('textarea', { class: 'conflict-merged', 'data-testid': 'conflict-merged', rows: 3 });
    merged.value = c.merged_text;
    const resolve = (strategy: ConflictStrategy) => () =>
      void this.session.files
        .resolveConflict(c.conflict_id, strategy, strategy === 'merged' ? merged.value : undefined)
        .then(() => this.refresh())
        .catch((err: unknown) => this.show(`resolve: ${(err as Error).message}`));
    return h(
      'li',
      { class: 'conflict', 'data-testid': 'conflict', 'data-conflict-id': c.conflict_id },
      h('div', { class: 'conflict-title' }, `${c.doc_id} @ ${c.version}: ${c.user_id} overlapped ${c.peers.filter((p) => p !== c.peer_id).join(', ')}`),
      sideBySide(
        [
          { title: `Mine (${c.user_id})`, body: textPane(c.mine_text, 'conflict-mine') },
          { title: 'Theirs', body: textPane(c.theirs_text, 'conflict-theirs') },
          { title: 'Merged', body: merged },
        ],
        'conflict-sides',
      ),
      h(
        'div',
        { class: 'conflict-actions' },
        h('button', { 'data-testid': 'keep-mine', onclick: resolve('keep_mine') }, 'Keep mine'),
        h('button', { 'data-testid': 'keep-theirs', onclick: resolve('keep_theirs') }, 'Keep theirs'),
        h('button', { 'data-testid': 'use-merged', onclick: resolve('merged') }, 'Use merged'),
      ),
    );
  }
}
