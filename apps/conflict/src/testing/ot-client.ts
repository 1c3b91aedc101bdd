import { applyOp, textType, transformX, type TextOp } from '@chorus/ot';

// A client-side OT state machine (the classic one: one op in flight, later local edits composed into a
// buffer, committed ops from others transformed over both). Transport-agnostic: it is told what arrived
// (`receiveOp`, `receiveAck`) and calls `send` with what to submit. Used by the conflict service's tests and
// benchmark, and meant for the e2e tests over the gateway. Tie rule as the server's (docs/ot.md): transformX
// gives the pending op 'right', the incoming committed op 'left'.

export interface OutgoingSubmit {
  readonly doc_id: string;
  /** Base version of `op`. */
  readonly version: number;
  readonly op: TextOp;
  readonly seq: number;
}

export interface IncomingOp {
  readonly version: number;
  readonly op: TextOp;
  readonly peer_id: string;
  readonly seq: number;
}

type Arrival = { kind: 'op'; op: TextOp } | { kind: 'ack' };

export class OtClient {
  text: string;
  /** Last version applied locally (every committed op up to it is in `text`). */
  version: number;
  private inflight: { op: TextOp; seq: number; version: number } | null = null;
  private buffer: TextOp | null = null;
  private nextSeq: number;
  /** Arrivals by version, applied strictly in version order (broadcasts and acks may arrive out of order). */
  private readonly arrivals = new Map<number, Arrival>();
  /** Every (seq → version) acknowledged to this client, for the tests' "no acked op lost" check. */
  readonly acked = new Map<number, number>();

  constructor(
    readonly clientId: string,
    readonly docId: string,
    initial: { version: number; content: string },
    private readonly send: (submit: OutgoingSubmit) => void,
    firstSeq = 1,
  ) {
    this.text = initial.content;
    this.version = initial.version;
    this.nextSeq = firstSeq;
  }

  /** A local edit on the current local text. Applied at once; sent now if nothing is in flight. */
  edit(op: TextOp): void {
    const applied = applyOp(this.text, op, { maxDocLength: Number.MAX_SAFE_INTEGER });
    if (!applied.ok) throw new Error(`local edit does not apply: ${applied.error.message}`);
    this.text = applied.doc;
    this.buffer = this.buffer ? textType.compose(this.buffer, op) : op;
    this.flush();
  }

  /** A committed op (broadcast or catch-up page). Duplicates and versions already applied are ignored. */
  receiveOp(op: IncomingOp): void {
    if (op.version <= this.version) return;
    const own = this.inflight !== null && op.peer_id === this.clientId && op.seq === this.inflight.seq;
    this.arrivals.set(op.version, own ? { kind: 'ack' } : { kind: 'op', op: op.op });
    this.drain();
  }

  /** The server acknowledged our in-flight op as `version`. */
  receiveAck(ack: { version: number; seq: number }): void {
    if (ack.version <= this.version || this.inflight === null || ack.seq !== this.inflight.seq) return;
    this.arrivals.set(ack.version, { kind: 'ack' });
    this.drain();
  }

  /** The op to resend (same seq) after a lost answer or a dead replica: it is deduped server-side. */
  resendable(): OutgoingSubmit | null {
    return this.inflight && { doc_id: this.docId, version: this.inflight.version, op: this.inflight.op, seq: this.inflight.seq };
  }

  /** A later version arrived but not the next one: fetch ops from `version` to fill the gap. */
  hasGap(): boolean {
    return this.arrivals.size > 0 && !this.arrivals.has(this.version + 1);
  }

  /** Nothing local is unacknowledged. */
  isSettled(): boolean {
    return this.inflight === null && this.buffer === null;
  }

  private drain(): void {
    for (let next = this.arrivals.get(this.version + 1); next; next = this.arrivals.get(this.version + 1)) {
      this.arrivals.delete(this.version + 1);
      this.version += 1;
      if (next.kind === 'ack') {
        if (this.inflight) this.acked.set(this.inflight.seq, this.version);
        this.inflight = null;
        this.flush();
        continue;
      }
      let incoming = next.op;
      if (this.inflight) {
        const [pending, over] = transformX(this.inflight.op, incoming);
        this.inflight = { ...this.inflight, op: pending, version: this.version };
        incoming = over;
      }
      if (this.buffer) {
        const [pending, over] = transformX(this.buffer, incoming);
        this.buffer = pending;
        incoming = over;
      }
      const applied = applyOp(this.text, incoming, { maxDocLength: Number.MAX_SAFE_INTEGER, maxOpChars: Number.MAX_SAFE_INTEGER, maxComponents: Number.MAX_SAFE_INTEGER });
      if (!applied.ok) throw new Error(`${this.clientId}: committed op ${this.version} does not apply locally: ${applied.error.message}`);
      this.text = applied.doc;
    }
  }

  private flush(): void {
    if (this.inflight !== null || this.buffer === null) return;
    // The in-flight op's base is the version it was last transformed to: every committed op up to `version` is
    // in it, so the server transforms it only against later ones.
    this.inflight = { op: this.buffer, seq: this.nextSeq++, version: this.version };
    this.buffer = null;
    this.send({ doc_id: this.docId, version: this.inflight.version, op: this.inflight.op, seq: this.inflight.seq });
  }
}
