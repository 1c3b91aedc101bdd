/**
 * Which session seqs were delivered: everything up to `floor`, plus a sparse set above it (events can be
 * delivered out of order across paths — a chat ack after a later push). `mark` says whether a seq is new, so
 * every durable event reaches the app once. The set stays small: it folds into `floor` as gaps close, and a
 * `joined` (which covers every seq up to its own) folds it entirely.
 */
export class SeqWindow {
  private floor: number;
  private highest: number;
  private readonly above = new Set<number>();

  constructor(start: number) {
    this.floor = start;
    this.highest = start;
  }

  /** The highest seq seen: the next `last_seq`. */
  get high(): number {
    return this.highest;
  }

  /** Records `seq`; false when it was already seen (a duplicate). */
  mark(seq: number): boolean {
    if (seq <= this.floor || this.above.has(seq)) return false;
    this.above.add(seq);
    if (seq > this.highest) this.highest = seq;
    while (this.above.delete(this.floor + 1)) this.floor++;
    return true;
  }

  /** Everything up to `seq` counts as seen (a `joined` covers it). */
  advanceTo(seq: number): void {
    if (seq <= this.floor) return;
    this.floor = seq;
    if (seq > this.highest) this.highest = seq;
    for (const s of this.above) if (s <= seq) this.above.delete(s);
    while (this.above.delete(this.floor + 1)) this.floor++;
  }
}
