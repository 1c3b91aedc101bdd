import type { ChorusSession, DurableEvent } from '@chorus/client';
import type { ActivityView } from '@chorus/protocol';
import { h, replaceChildren } from './dom';

// The agents' activity feed (GET …/activity, docs/agents.md): prompts taken, finished and given back, tools run,
// documents edited (one row per run of edits, with its version range) and status changes — newest first, one page at a time ("more" loads the older page). Refreshed (the newest page again, the older
// pages kept) when a durable agent event arrives; rows are keyed by seq, so a refresh never shows one twice.

const PAGE = 20;
/** Durable session events that add a row to the feed. */
const FEED_EVENTS = new Set(['prompt_assigned', 'prompt_completed', 'prompt_released', 'document_edited', 'agent_status_changed']);
const FEED_OUTPUTS = new Set(['tool_start', 'tool_result', 'error']);

export class ActivityFeed {
  readonly root: HTMLElement;
  private readonly list = h('ol', { class: 'agent-activity', 'data-testid': 'agent-activity' });
  private readonly more = h('button', { class: 'chat-action', 'data-testid': 'activity-more', type: 'button', hidden: true, onclick: () => void this.loadOlder() }, 'more');
  private readonly rows = new Map<number, ActivityView>();
  private olderThan: number | null = null;
  private refreshing: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly session: ChorusSession,
    private readonly show: (message: string) => void,
  ) {
    this.root = h('div', { class: 'activity' }, h('h4', {}, 'Activity'), this.list, this.more);
    session.on('event', (e) => this.onEvent(e));
    // After every (re)join: what happened while away.
    session.on('joined', () => void this.refresh());
    if (session.state === 'joined') void this.refresh();
  }

  /** Loads the newest page (again); coalesces a burst of events into at most one call in flight and one after. */
  refresh(): Promise<void> {
    if (this.refreshing !== null) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.session.prompts
      .activity({ limit: PAGE })
      .then((page) => {
        // A full page that does not reach what is shown leaves a gap: start over from this page.
        const newestShown = Math.max(0, ...this.rows.keys());
        const oldest = page.items.at(-1)?.seq ?? 0;
        if (this.rows.size === 0 || (page.next_before_seq !== null && oldest > newestShown)) {
          this.rows.clear();
          this.olderThan = page.next_before_seq;
        }
        for (const item of page.items) this.rows.set(item.seq, item);
        this.render();
      })
      .catch((err: unknown) => this.show(`activity not loaded: ${(err as Error).message}`))
      .finally(() => {
        this.refreshing = null;
        if (this.again) {
          this.again = false;
          void this.refresh();
        }
      });
    return this.refreshing;
  }

  private async loadOlder(): Promise<void> {
    if (this.olderThan === null) return;
    try {
      const page = await this.session.prompts.activity({ limit: PAGE, beforeSeq: this.olderThan });
      for (const item of page.items) this.rows.set(item.seq, item);
      this.olderThan = page.next_before_seq;
      this.render();
    } catch (err) {
      this.show(`older activity not loaded: ${(err as Error).message}`);
    }
  }

  private onEvent(e: DurableEvent): void {
    if (e.kind !== 'session_event') return;
    const type = e.message.event_type;
    if (FEED_EVENTS.has(type) || (type === 'agent_output' && FEED_OUTPUTS.has(String(e.message.payload.kind)))) void this.refresh();
  }

  private render(): void {
    const items = [...this.rows.values()].sort((a, b) => b.seq - a.seq);
    replaceChildren(
      this.list,
      ...items.map((a) =>
        h(
          'li',
          { 'data-seq': a.seq, 'data-kind': a.kind, 'data-agent': a.agent_id, 'data-message-id': a.message_id ?? '' },
          h('time', { datetime: a.created_at }, new Date(a.created_at).toLocaleTimeString()),
          ` ${a.agent_id} `,
          h('span', { class: 'kind' }, a.kind.replace('_', ' ')),
          h('span', { class: 'data' }, detailOf(a)),
        ),
      ),
    );
    this.more.hidden = this.olderThan === null;
  }
}

/** A row's detail: the tool call or result, the document and its version range, or the new status. */
export function detailOf(a: ActivityView): string {
  switch (a.kind) {
    case 'document_edited':
      return ` ${a.doc_id} v${a.from_version}${a.to_version !== a.from_version ? `–v${a.to_version}` : ''} (${a.ops} ${a.ops === 1 ? 'edit' : 'edits'})`;
    case 'status_changed':
      return ` ${a.status}${a.detail !== null && a.detail !== '' ? `: ${a.detail}` : ''}`;
    default:
      return a.data !== null ? ` ${a.data}` : '';
  }
}
