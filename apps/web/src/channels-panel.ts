import type { BuiltInChannel, ChannelEvent, ChorusSession } from '@chorus/client';
import { colorOf } from './colors';
import { h, replaceChildren } from './dom';

// The session's channels on screen: what linters, watchers and agents publish (docs/protocol.md "Channels"),
// live. `diagnostics` and `ai-response` are subscribed from the start; any other channel (built-in or `x-<name>`)
// can be added. Each event is shown once, in seq order, also after a reconnect (the SDK resubscribes with
// `since`); a gap beyond the channel's retention is shown as such.

const DEFAULT_CHANNELS = ['diagnostics', 'ai-response'] as const;
const MAX_SHOWN = 200;
type Subscribable = BuiltInChannel | `x-${string}`;

/** What the panel has shown, for tests (window.chorusDebug.channelEvents). */
export interface ShownChannelEvent {
  channel: string;
  seq: number;
  text: string;
}

export class ChannelsPanel {
  readonly root: HTMLElement;
  private readonly list = h('ul', { class: 'channel-events', 'data-testid': 'channel-events' });
  private readonly subscribed = h('div', { class: 'channel-subs', 'data-testid': 'channel-subs' });
  private readonly shown: ShownChannelEvent[] = [];
  /** ai-response chunks, per answer id, concatenated in index order: one line per answer. */
  private readonly answers = new Map<string, { chunks: string[]; finished: boolean; item: HTMLElement }>();

  constructor(private readonly session: ChorusSession) {
    const input = h('input', { name: 'channel', 'data-testid': 'channel-input', placeholder: 'files, git, x-build…', autocomplete: 'off' });
    const form = h(
      'form',
      {
        class: 'channel-form',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const name = input.value.trim();
          input.value = '';
          if (name !== '') void this.subscribe(name as Subscribable);
        },
      },
      input,
      h('button', { type: 'submit' }, 'Subscribe'),
    );
    this.root = h('section', { class: 'channels', 'data-testid': 'channels' }, h('h3', {}, 'Channels'), this.subscribed, this.list, form);
    session.channels.on('event', (e) => this.add(e));
    session.channels.on('gap', (g) => this.line(g.channel, g.seq, `missed events ${g.afterSeq + 1}–${g.seq} (beyond the channel's history): reload`, 'gap'));
  }

  /** Subscribes to the default channels (after the session is joined). */
  async start(): Promise<void> {
    await Promise.all(DEFAULT_CHANNELS.map((c) => this.subscribe(c)));
  }

  async subscribe(channel: Subscribable): Promise<void> {
    try {
      await this.session.channels.subscribe(channel);
    } catch (err) {
      this.line(channel, 0, `could not subscribe: ${(err as Error).message}`, 'error');
    }
    this.renderSubscriptions();
  }

  events(): ShownChannelEvent[] {
    return [...this.shown];
  }

  private renderSubscriptions(): void {
    replaceChildren(
      this.subscribed,
      ...this.session.channels.list().map((c) =>
        h('span', { class: 'badge channel', 'data-channel': c }, c, h('button', { class: 'chat-action', title: `Unsubscribe ${c}`, onclick: () => void this.session.channels.unsubscribe(c).then(() => this.renderSubscriptions()) }, '×')),
      ),
    );
  }

  private add(e: ChannelEvent): void {
    if (e.channel === 'ai-response') return this.addChunk(e as ChannelEvent<'ai-response'>);
    this.line(e.channel, e.seq, describe(e), 'event', e.publisher.peer_id);
  }

  /** One line per answer, growing as its chunks arrive (in index order, whatever order they were published in). */
  private addChunk(e: ChannelEvent<'ai-response'>): void {
    const { id, chunk, index, finished } = e.data;
    let answer = this.answers.get(id);
    if (!answer) {
      const item = this.line('ai-response', e.seq, '', 'event', e.publisher.peer_id);
      item.dataset.answer = id;
      answer = { chunks: [], finished: false, item };
      this.answers.set(id, answer);
    }
    answer.chunks[index] = chunk;
    answer.finished ||= finished;
    const text = answer.chunks.join('');
    answer.item.querySelector('.text')?.replaceChildren(`${text}${answer.finished ? '' : ' …'}`);
    answer.item.dataset.finished = String(answer.finished);
    this.shown.push({ channel: 'ai-response', seq: e.seq, text });
  }

  private line(channel: string, seq: number, text: string, kind: 'event' | 'gap' | 'error', peerId?: string): HTMLElement {
    const item = h(
      'li',
      { 'data-channel': channel, 'data-seq': seq, 'data-kind': kind },
      h('span', { class: 'badge channel', style: peerId ? `border-color: ${colorOf(peerId)}` : undefined }, channel),
      ' ',
      h('span', { class: 'text' }, text),
    );
    this.list.appendChild(item);
    while (this.list.childElementCount > MAX_SHOWN) this.list.firstElementChild?.remove();
    this.list.scrollTop = this.list.scrollHeight;
    if (kind === 'event' && channel !== 'ai-response') this.shown.push({ channel, seq, text });
    return item;
  }
}

/** A one-line rendering of a built-in channel's event (a custom channel's JSON as it is). */
function describe(e: ChannelEvent): string {
  switch (e.channel) {
    case 'diagnostics': {
      const d = (e as ChannelEvent<'diagnostics'>).data;
      return `${d.file}: ${d.diagnostics.length === 0 ? 'clean' : d.diagnostics.map((x) => `${x.severity} ${x.range.start.line + 1}:${x.range.start.character + 1} ${x.message}`).join('; ')}`;
    }
    case 'files': {
      const d = (e as ChannelEvent<'files'>).data;
      return `${d.event} ${d.file}`;
    }
    case 'search': {
      const d = (e as ChannelEvent<'search'>).data;
      return `“${d.query}”: ${d.count} of ${d.total}`;
    }
    case 'git': {
      const d = (e as ChannelEvent<'git'>).data;
      return `${d.type}: ${d.message}`;
    }
    default:
      return JSON.stringify(e.data);
  }
}
