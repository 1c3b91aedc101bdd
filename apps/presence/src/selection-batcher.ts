import type { TextOp } from '@chorus/ot';
import type { PresenceService } from './presence';

interface Pending {
  readonly sessionId: string;
  readonly docId: string;
  readonly ops: Array<{ op: TextOp; authorPeerId: string }>;
}

/**
 * Moves stored selections through committed ops, one document at a time and at most every `intervalMs` per
 * document: ops arriving meanwhile queue up and go through together in the next store call (still op by op,
 * in arrival order, each with its author's tie rule). A hot document with 200 cursors then costs ~10 store
 * calls per second instead of one per keystroke. Stored positions lag by at most `intervalMs`; they serve
 * `who` and late joiners (live clients move the cursors they show themselves, by the same rule).
 */
export class SelectionBatcher {
  private readonly queued = new Map<string, Pending>();
  private readonly running = new Set<string>();

  constructor(
    private readonly presence: PresenceService,
    private readonly intervalMs = 100,
  ) {}

  add(sessionId: string, docId: string, op: TextOp, authorPeerId: string): Promise<void> {
    const key = `${sessionId}\u0000${docId}`;
    const pending = this.queued.get(key) ?? { sessionId, docId, ops: [] };
    pending.ops.push({ op, authorPeerId });
    this.queued.set(key, pending);
    return this.running.has(key) ? Promise.resolve() : this.run(key);
  }

  private async run(key: string): Promise<void> {
    this.running.add(key);
    try {
      for (let batch = this.queued.get(key); batch; batch = this.queued.get(key)) {
        const started = Date.now();
        this.queued.delete(key);
        await this.presence.transformSelectionsMany(batch.sessionId, batch.docId, batch.ops);
        const wait = this.intervalMs - (Date.now() - started);
        if (wait > 0 && this.queued.has(key)) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    } finally {
      this.running.delete(key);
    }
  }
}
