/**
 * Which durable updates of one document reached this gateway (docs/yjs.md "A push lost with its gateway").
 *
 * Every appended update has a seq, one more than the last (the conflict service assigns them under the head-row
 * lock; a rolled-back statement uses none), and the gateway that appended it pushes it on the road with that seq.
 * A gateway that dies between the commit and its push leaves an update that is durable and reached nobody: every
 * live subscriber lacks it, and a CRDT shows nothing typed after it by that client until it arrives. Its seq never
 * comes, so a later seq (a push, or the head of a state read here) shows the hole. Pushes of different gateways may
 * arrive out of order, so a hole is only a suspicion until it has lasted a grace period.
 *
 * Pure bookkeeping (no timer, no I/O): YjsDocs arms the timer and reads the state.
 */
export class YjsSeqs {
  /** Every seq up to here reached this node (undefined until the first state read here). */
  private floor: number | undefined;
  /** Seqs above the floor that reached this node. */
  private readonly above = new Set<number>();
  /** The highest seq known to exist (pushed, or a state read's head). */
  private highest = 0;

  /** A durable update's push reached this node. */
  pushed(seq: number): void {
    if (this.floor !== undefined && seq <= this.floor) return;
    this.above.add(seq);
    this.highest = Math.max(this.highest, seq);
    this.advance();
  }

  /**
   * A state read here (a subscriber's sync step 1): it holds every seq up to `head`. The first read is where this
   * node starts (its subscribers got that state); a later one only tells how far the log goes — the subscribers
   * already here did not get that reader's state.
   */
  read(head: number): void {
    this.highest = Math.max(this.highest, head);
    if (this.floor === undefined) this.filled(head);
    else this.advance();
  }

  /** Every seq up to `head` was delivered to this node's subscribers (a fill: the whole state, read at `head`). */
  filled(head: number): void {
    this.floor = Math.max(this.floor ?? 0, head);
    this.highest = Math.max(this.highest, head);
    for (const seq of this.above) if (seq <= head) this.above.delete(seq);
    this.advance();
  }

  /** Some seq at or below the highest known did not reach this node (yet). */
  get gap(): boolean {
    return this.floor !== undefined && this.floor < this.highest;
  }

  /** The first missing seq (for logs). */
  get missingFrom(): number | undefined {
    return this.gap ? (this.floor ?? 0) + 1 : undefined;
  }

  private advance(): void {
    if (this.floor === undefined) return;
    while (this.above.delete(this.floor + 1)) this.floor++;
  }
}
