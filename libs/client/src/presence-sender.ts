import type { Selection } from '@chorus/protocol';

/** What `setPresence` reports: only the fields given change. */
export interface PresencePatch {
  /** `away` is the client's choice; `online`/`idle` is derived by the server from activity. */
  status?: 'online' | 'away';
  /** The file in view. */
  active_file?: string | null;
  /** The document the cursor is in. */
  doc_id?: string | null;
  /** The cursor or selection in `doc_id`, in code points. */
  selection?: Selection | null;
}

/** At most one presence_update per this many ms (the server batches presence per 50 ms tick). */
const PRESENCE_INTERVAL_MS = 50;
/** A typing indicator lives 5 s on the server: repeating it more often than this adds nothing. */
const TYPING_REPEAT_MS = 2_000;

/**
 * Our own presence, sent the way an editor produces it — on every cursor move and keystroke — without
 * spending the presence rate limit: updates are coalesced (latest value of each field wins) and sent at most
 * every 50 ms; a typing repeat for the same document within 2 s is not sent. Remembers the whole state, which
 * the session sends again after every rejoin.
 */
export class PresenceSender {
  private own: PresencePatch = {};
  private queued: PresencePatch = {};
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private sending = false;
  private sentAt = 0;
  private typingSent: { docId: string | null; at: number } | null = null;

  constructor(private readonly send: (patch: PresencePatch) => Promise<void>) {}

  /** Everything reported so far (merged): what a rejoin reports again. */
  get state(): PresencePatch {
    return this.own;
  }

  /** Queues a patch; resolves when the coalesced update carrying it is acknowledged. */
  update(patch: PresencePatch): Promise<void> {
    this.own = { ...this.own, ...patch };
    this.queued = { ...this.queued, ...patch };
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Whether a typing indicator for `docId` should be sent now (false: a recent one still holds). */
  shouldSendTyping(docId: string | null): boolean {
    if (this.typingSent && this.typingSent.docId === docId && Date.now() - this.typingSent.at < TYPING_REPEAT_MS) return false;
    this.typingSent = { docId, at: Date.now() };
    return true;
  }

  /** The typing indicator was cleared: the next `typing` is sent. */
  typingStopped(): void {
    this.typingSent = null;
  }

  /** The session ended: pending updates fail with `error`. */
  cancel(error: unknown): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  private schedule(): void {
    if (this.timer !== null || this.sending) return;
    const wait = Math.max(0, this.sentAt + PRESENCE_INTERVAL_MS - Date.now());
    this.timer = setTimeout(() => void this.flush(), wait);
  }

  private async flush(): Promise<void> {
    this.timer = null;
    const patch = this.queued;
    const waiters = this.waiters;
    this.queued = {};
    this.waiters = [];
    this.sending = true;
    try {
      await this.send(patch);
      this.sentAt = Date.now();
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    } finally {
      this.sending = false;
      if (this.waiters.length > 0) this.schedule();
    }
  }
}
