import { ChorusError, type ChorusClient } from '@chorus/client';
import type { SessionView as SessionInfo } from '@chorus/protocol';
import { h, replaceChildren } from './dom';

// Public sessions on the home screen (GET /public-sessions, docs/session-admin.md): searched by name, newest
// first, a page at a time ("Load more" passes the page's cursor on). Opening one joins it as a viewer.

export const DISCOVERY_PAGE = 10;

export class DiscoveryPanel {
  readonly root = h('section', { class: 'discovery', 'data-testid': 'discovery' });
  private readonly q = h('input', { type: 'search', name: 'q', 'data-testid': 'discover-q', placeholder: 'Search public sessions by name', autocomplete: 'off' });
  private readonly list = h('ul', { class: 'discover-list', 'data-testid': 'discover-list' });
  private readonly more = h('button', { type: 'button', 'data-testid': 'discover-more', hidden: true, onclick: () => void this.load(false) }, 'Load more');
  private readonly error = h('p', { class: 'error', 'data-testid': 'discover-error' });
  private cursor: string | null = null;
  /** The query the shown pages answer (the search box may have changed since). */
  private shownQuery = '';
  /** Bumped by every new search: an older search's page arriving late is dropped. */
  private generation = 0;

  constructor(
    private readonly client: ChorusClient,
    private readonly open: (sessionId: string) => void,
  ) {
    replaceChildren(
      this.root,
      h('h2', {}, 'Public sessions'),
      h('form', { class: 'discover-form', 'data-testid': 'discover-form', onsubmit: (e: Event) => (e.preventDefault(), void this.load(true)) }, this.q, h('button', { type: 'submit' }, 'Search')),
      this.list,
      this.more,
      this.error,
    );
  }

  /** The first page of a new search (`fresh`), or the next page of the shown one. */
  async load(fresh = true): Promise<void> {
    const generation = fresh ? ++this.generation : this.generation;
    if (fresh) this.shownQuery = this.q.value.trim();
    const q = this.shownQuery;
    this.more.disabled = true;
    try {
      const page = await this.client.admin.discover({ ...(q !== '' ? { q } : {}), ...(!fresh && this.cursor !== null ? { cursor: this.cursor } : {}), limit: DISCOVERY_PAGE });
      if (generation !== this.generation) return;
      if (fresh) replaceChildren(this.list);
      for (const s of page.sessions) this.list.appendChild(this.item(s));
      if (this.list.childElementCount === 0) this.list.appendChild(h('li', { class: 'muted' }, q === '' ? 'No public sessions.' : `No public session matches “${q}”.`));
      this.cursor = page.next_cursor;
      this.more.hidden = page.next_cursor === null;
      this.error.textContent = '';
    } catch (err) {
      this.error.textContent = `discovery: ${err instanceof ChorusError ? `${err.code}: ${err.message}` : (err as Error).message}`;
    } finally {
      this.more.disabled = false;
    }
  }

  private item(s: SessionInfo): HTMLElement {
    return h(
      'li',
      { 'data-testid': 'discover-item', 'data-session-id': s.session_id },
      h('a', { href: `/s/${s.session_id}`, onclick: (e: Event) => (e.preventDefault(), this.open(s.session_id)) }, s.name),
      h('span', { class: 'muted' }, `${s.participant_count}/${s.max_participants}`),
      s.has_password && h('span', { class: 'badge' }, 'password'),
      s.my_role !== null && h('span', { class: 'badge' }, s.my_role),
    );
  }
}
