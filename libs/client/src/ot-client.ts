import { applyChecked, OtValidationError, textType, transformX, type TextOp } from '@chorus/ot';

/** A committed op as the server sends it (`op` push, or an entry of an `ops` reply). */
export interface CommittedOp {
  /** The version this op created (its base is version - 1). */
  version: number;
  /** The op as committed (code points). */
  op: TextOp;
  /** Its author's peer id. */
  peer_id: string;
  /** Its author's op seq. */
  seq: number;
}

/** A remote op as applied locally: `op` (transformed against local pending edits) turned `before` into the new text. */
export interface RemoteApplied {
  /** The op as applied to the local text (transformed against local pending edits). */
  op: TextOp;
  /** The local text before it. */
  before: string;
  /** Its author. */
  peerId: string;
  /** The server version it created. */
  version: number;
}

/** Where the OT client's requests go: the document wires them to `submit_op` and `fetch_ops`. */
export interface OtSink {
  /** Send `op`, based on `version`, as this peer's `seq` (a resend keeps the seq: the server dedupes it). */
  submit(op: TextOp, version: number, seq: number): void;
  /** Committed ops after `fromVersion` are missing (a version was skipped): fetch them, then call `fetchDone`. */
  fetch(fromVersion: number): void;
  /** A remote op was applied to `text`. */
  applied(change: RemoteApplied): void;
  /** The in-flight op was committed as `version`. */
  acked(version: number, seq: number): void;
}

const OWN = Symbol('own op committed');

/**
 * The client half of the ShareDB model, transport-free and synchronous (so it is property-tested against a
 * simulated server, libs/client/test/ot-client.spec.ts):
 *   - at most one op in flight; later local edits are composed into one buffered op, sent when the ack comes;
 *   - committed ops are applied strictly in version order: early arrivals wait in a queue, a skipped version
 *     asks the sink to fetch; each remote op is transformed against the in-flight and buffered ops
 *     (`transformX`: the committed op wins ties, as on the server), and they against it;
 *   - the in-flight op is recognised when it comes back committed (its ack, or itself in a fetched page: same
 *     peer id and seq), so a resend after a reconnect is never applied twice and never lost.
 * Invariant: `text` = apply(server text at `version`, inflight ∘ buffer).
 */
export class OtClient {
  private docText: string;
  private serverVersion: number;
  private inflight: { op: TextOp; seq: number } | null = null;
  private buffer: TextOp | null = null;
  private readonly queue = new Map<number, CommittedOp | typeof OWN>();
  private fetching = false;

  constructor(
    /** This connection's peer id: committed ops carrying it (and the in-flight seq) are ours. */
    readonly peerId: string,
    version: number,
    text: string,
    private readonly nextSeq: () => number,
    private readonly sink: OtSink,
  ) {
    this.serverVersion = version;
    this.docText = text;
  }

  /** The local text: the server's at `version` plus every local edit not yet acknowledged. */
  get text(): string {
    return this.docText;
  }

  /** The last server version applied. */
  get version(): number {
    return this.serverVersion;
  }

  /** Whether local edits are waiting for an acknowledgement. */
  get pending(): boolean {
    return this.inflight !== null || this.buffer !== null;
  }

  /** Whether committed ops (or our ack) wait for an earlier version that has not arrived: a gap to fill. */
  get hasGap(): boolean {
    return this.queue.size > 0;
  }

  /** The seq of the op in flight, if any. */
  get inflightSeq(): number | undefined {
    return this.inflight?.seq;
  }

  /**
   * Applies a local edit (code points, against `text`) and sends or buffers it. Returns the op as applied
   * (canonical, deletes carrying their text). Throws OtValidationError for an op that does not fit the text.
   */
  applyLocal(op: TextOp): TextOp {
    const result = applyChecked(this.docText, op);
    if (!result.ok) throw new OtValidationError(result.error);
    this.docText = result.doc;
    if (result.op.length === 0) return result.op;
    if (this.inflight) this.buffer = this.buffer ? textType.compose(this.buffer, result.op) : result.op;
    else this.send(result.op);
    return result.op;
  }

  /** A committed op (live push or fetched). Duplicates and our own ops are recognised. */
  receive(committed: CommittedOp): void {
    if (committed.version <= this.serverVersion) return;
    const own = this.inflight !== null && committed.peer_id === this.peerId && committed.seq === this.inflight.seq;
    this.queue.set(committed.version, own ? OWN : committed);
    this.drain();
  }

  /** The ack of the op in flight. An ack of an older seq (a late duplicate) is ignored. */
  receiveAck(version: number, seq: number): void {
    if (!this.inflight || seq !== this.inflight.seq || version <= this.serverVersion) return;
    this.queue.set(version, OWN);
    this.drain();
  }

  /** The sink finished a fetch (every page up to the head). A gap that is still open asks again. */
  fetchDone(): void {
    this.fetching = false;
    this.drain();
  }

  /** After a reconnect (and the catch-up fetch): sends the in-flight op again, same seq, rebased on `version`. */
  resendInflight(): void {
    if (this.inflight) this.sink.submit(this.inflight.op, this.serverVersion, this.inflight.seq);
  }

  /**
   * Starts over from the server's text (a reload). Returns the local edits that were not acknowledged, composed
   * (relative to the old text), so the app can show or reapply them.
   */
  reset(version: number, text: string): TextOp | null {
    let lost: TextOp | null = this.inflight?.op ?? null;
    if (this.buffer) lost = lost ? textType.compose(lost, this.buffer) : this.buffer;
    this.inflight = null;
    this.buffer = null;
    this.queue.clear();
    this.fetching = false;
    this.serverVersion = version;
    this.docText = text;
    return lost;
  }

  private send(op: TextOp): void {
    this.inflight = { op, seq: this.nextSeq() };
    this.sink.submit(op, this.serverVersion, this.inflight.seq);
  }

  private drain(): void {
    for (let next = this.queue.get(this.serverVersion + 1); next !== undefined; next = this.queue.get(this.serverVersion + 1)) {
      this.queue.delete(this.serverVersion + 1);
      if (next === OWN) {
        const seq = this.inflight?.seq ?? -1;
        this.serverVersion++;
        this.inflight = null;
        this.sink.acked(this.serverVersion, seq);
        if (this.buffer) {
          const op = this.buffer;
          this.buffer = null;
          this.send(op);
        }
        continue;
      }
      let incoming = next.op;
      if (this.inflight) [this.inflight.op, incoming] = transformX(this.inflight.op, incoming);
      if (this.buffer) [this.buffer, incoming] = transformX(this.buffer, incoming);
      const before = this.docText;
      this.docText = textType.apply(before, incoming);
      this.serverVersion++;
      this.sink.applied({ op: incoming, before, peerId: next.peer_id, version: this.serverVersion });
    }
    for (const version of this.queue.keys()) if (version <= this.serverVersion) this.queue.delete(version);
    if (this.queue.size > 0 && !this.fetching) {
      this.fetching = true;
      this.sink.fetch(this.serverVersion);
    }
  }
}
