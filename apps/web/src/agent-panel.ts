import type { ChorusSession, DurableEvent } from '@chorus/client';
import type { QueueUpdated } from '@chorus/protocol';
import { ActivityFeed } from './activity-feed';
import { h, replaceChildren } from './dom';

// The agents of a session on screen (docs/agents.md): every queue with positions (newest view by revision, as
// the SDK keeps it), a form to ask, cancel on one's own queued prompts, each agent's status, and the live
// output of every response — the running text (the text so far a join brought, then live chunks) and the tool
// calls, which are durable session events.

interface Response {
  readonly root: HTMLElement;
  readonly text: HTMLElement;
  readonly tools: HTMLElement;
}

export class AgentPanel {
  readonly root: HTMLElement;
  private readonly queueList = h('ol', { class: 'agent-queue', 'data-testid': 'agent-queue' });
  private readonly statusList = h('ul', { class: 'agent-status', 'data-testid': 'agent-status' });
  private readonly outputs = h('div', { class: 'agent-output', 'data-testid': 'agent-output' });
  private readonly contents = new Map<string, string>();
  private readonly mine = new Set<string>();
  private readonly responses = new Map<string, Response>();
  private readonly statuses = new Map<string, string>();

  constructor(
    private readonly session: ChorusSession,
    private readonly show: (message: string) => void,
  ) {
    const input = h('input', { name: 'prompt', 'data-testid': 'prompt-input', placeholder: 'Ask an agent', autocomplete: 'off' });
    const form = h(
      'form',
      {
        class: 'prompt-form',
        'data-testid': 'prompt-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const content = input.value.trim();
          if (content === '') return;
          input.value = '';
          // Idempotent in the SDK (client_msg_id): resent after a lost answer, queued once.
          this.session.prompts
            .submit(content)
            .then((q) => {
              this.mine.add(q.message_id);
              this.contents.set(q.message_id, content);
              this.renderQueues();
            })
            .catch((err: unknown) => this.show(`prompt not queued: ${(err as Error).message}`));
        },
      },
      input,
      h('button', { type: 'submit' }, 'Ask'),
    );
    this.root = h('section', { class: 'agents', 'data-testid': 'agent-panel' }, h('h3', {}, 'Agents'), this.statusList, h('h4', {}, 'Queue'), this.queueList, form, h('h4', {}, 'Output'), this.outputs, new ActivityFeed(session, show).root);
    session.prompts.on('queue', () => this.renderQueues());
    session.prompts.on('agentStatus', (s) => {
      this.statuses.set(s.agent_id, `${s.status}${s.detail ? `: ${s.detail}` : ''}`);
      this.renderStatuses();
    });
    session.prompts.on('agentText', ({ messageId, text }) => {
      this.response(messageId).text.textContent = text;
    });
    session.on('event', (e) => this.durable(e));
  }

  private durable(e: DurableEvent): void {
    if (e.kind !== 'session_event') return;
    const p = e.message.payload;
    const id = typeof p.message_id === 'string' ? p.message_id : undefined;
    if (id === undefined) return;
    switch (e.message.event_type) {
      case 'prompt_queued':
        if (typeof p.content === 'string') this.contents.set(id, p.content);
        this.renderQueues();
        return;
      case 'agent_output': {
        const kind = String(p.kind);
        const r = this.response(id);
        if (kind === 'response') {
          // The final text replaces the running one; the SDK can forget the chunks.
          r.text.textContent = String(p.data);
          r.root.dataset.state = 'done';
          this.session.prompts.forget(id);
          return;
        }
        r.tools.appendChild(h('li', { 'data-kind': kind, 'data-index': Number(p.index) }, `${kind === 'tool_start' ? '▶' : kind === 'tool_result' ? '✓' : '!'} ${String(p.data)}`));
        return;
      }
      default:
    }
  }

  private response(messageId: string): Response {
    let r = this.responses.get(messageId);
    if (r) return r;
    const text = h('pre', { class: 'agent-text', 'data-testid': 'agent-text' });
    const tools = h('ul', { class: 'agent-tools', 'data-testid': 'agent-tools' });
    const root = h('article', { 'data-message-id': messageId, 'data-state': 'streaming' }, h('div', { class: 'prompt' }, this.contents.get(messageId) ?? ''), tools, text);
    r = { root, text, tools };
    this.responses.set(messageId, r);
    this.outputs.prepend(root);
    return r;
  }

  private renderStatuses(): void {
    replaceChildren(this.statusList, ...[...this.statuses].map(([agent, status]) => h('li', { 'data-agent': agent }, h('strong', {}, agent), ` ${status}`)));
  }

  private renderQueues(): void {
    const queues = [...this.session.prompts.queues().values()];
    replaceChildren(this.queueList, ...queues.flatMap((q) => this.queueItems(q)));
  }

  private queueItems(q: QueueUpdated): HTMLElement[] {
    return q.items.map((item) =>
      h(
        'li',
        { 'data-message-id': item.message_id, 'data-position': item.position, 'data-queue': q.agent_id ?? 'any', class: this.mine.has(item.message_id) ? 'own' : undefined },
        h('span', { class: 'position' }, `#${item.position}`),
        ' ',
        h('span', { class: 'content' }, this.contents.get(item.message_id) ?? ''),
        ` · ${item.author}${q.agent_id ? ` → ${q.agent_id}` : ''}`,
        this.mine.has(item.message_id) &&
          h(
            'button',
            { class: 'chat-action', 'data-testid': 'prompt-cancel', onclick: () => void this.session.prompts.cancel(item.message_id).catch((err: unknown) => this.show(`not cancelled: ${(err as Error).message}`)) },
            'cancel',
          ),
      ),
    );
  }
}
