import { ChorusError, type ChorusClient } from '@chorus/client';
import type { SessionView as SessionInfo } from '@chorus/protocol';
import { h, replaceChildren } from './dom';

// Public sessions on the home screen (GET /public-sessions, docs/session-admin.md): searched by name, newest
// first, a page at a time ("Load more" passes the page's cursor on). Opening one joins it as a viewer; one with a
// password the user has not joined yet asks for it first, inline under its name (PasswordPrompt).

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
    // A participant already is one: no password is asked of them (the server does not ask either).
    const prompt = s.has_password && s.my_role === null ? new PasswordPrompt(this.client, s.session_id, () => this.open(s.session_id)) : null;
    return h(
      'li',
      { 'data-testid': 'discover-item', 'data-session-id': s.session_id },
      h('a', { href: `/s/${s.session_id}`, onclick: (e: Event) => (e.preventDefault(), prompt ? prompt.show() : this.open(s.session_id)) }, s.name),
      h('span', { class: 'muted' }, `${s.participant_count}/${s.max_participants}`),
      s.has_password && h('span', { class: 'badge' }, 'password'),
      s.my_role !== null && h('span', { class: 'badge' }, s.my_role),
      prompt?.root,
    );
  }
}

/**
 * The session password, asked inline: sent with the join (`POST /sessions/:id/join {password}`), which makes the
 * user a participant (a viewer); the session then opens like any other (its socket join needs no password again).
 * A refusal stays in the form, with the server's code and message — a wrong password is PERMISSION_DENIED ("Wrong
 * session password."), too many guesses RATE_LIMITED with when to retry — and the user tries again.
 */
class PasswordPrompt {
  readonly root = h('form', { class: 'password-prompt', 'data-testid': 'discover-password-form', hidden: true, onsubmit: (e: Event) => (e.preventDefault(), void this.submit()) });
  private readonly input = h('input', { type: 'password', name: 'password', 'data-testid': 'discover-password', placeholder: 'Session password', autocomplete: 'off', required: true, minlength: 4, maxlength: 256 });
  private readonly join = h('button', { type: 'submit', 'data-testid': 'discover-password-join' }, 'Join');
  private readonly error = h('p', { class: 'error', 'data-testid': 'discover-password-error', role: 'alert' });

  constructor(
    private readonly client: ChorusClient,
    private readonly sessionId: string,
    private readonly joined: () => void,
  ) {
    const cancel = h('button', { type: 'button', 'data-testid': 'discover-password-cancel', onclick: () => this.hide() }, 'Cancel');
    replaceChildren(this.root, h('label', {}, 'This session needs a password: ', this.input), this.join, cancel, this.error);
  }

  show(): void {
    this.root.hidden = false;
    this.input.focus();
  }

  private hide(): void {
    this.root.hidden = true;
    this.input.value = '';
    this.error.textContent = '';
  }

  private async submit(): Promise<void> {
    this.join.disabled = true;
    this.error.textContent = '';
    try {
      await this.client.rest.joinToken(this.sessionId, this.input.value);
      this.joined();
    } catch (err) {
      this.error.textContent = refusal(err);
      this.input.select();
      this.input.focus();
    } finally {
      this.join.disabled = false;
    }
  }
}

/** The server's code and message (a RATE_LIMITED one says when to retry). */
function refusal(err: unknown): string {
  return err instanceof ChorusError ? `${err.code}: ${err.message}` : (err as Error).message;
}
