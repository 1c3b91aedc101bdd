import * as fc from 'fast-check';
import { textType, transformAgainst, type TextOp } from '@chorus/ot';
import { OtClient, type CommittedOp } from '@chorus/client';
import { mulberry32 as prng } from '@chorus/testing';

// The OT client against a simulated server (the real server's rules: transform to head with committed ops
// winning ties, dedupe of a resent (peer, seq), pushes to everyone but the author) over a simulated network with
// random delays (FIFO per connection, as a socket is), connections that drop with messages in flight both ways,
// and reconnects that do what ChorusDocument.resume does (reopen, fetch_ops from our version, resend in flight).
// Virtual time, one seeded PRNG per run: a failure reproduces from its seed.

type Up = { kind: 'submit'; op: TextOp; version: number; seq: number } | { kind: 'fetch'; from: number; purpose: 'gap' | 'resume' };
type Down = { kind: 'op'; op: CommittedOp } | { kind: 'ack'; version: number; seq: number } | { kind: 'ops'; ops: CommittedOp[]; head: number; purpose: 'gap' | 'resume' };

interface SimClient {
  peer: string;
  ot: OtClient;
  epoch: number;
  online: boolean;
  /** Requests made while offline: sent once connected (ChorusClient.request waits for the connection). */
  waiting: Up[];
  lastUp: number;
  lastDown: number;
  gapFetches: number;
  inserted: string[];
}

interface Options {
  clients: number;
  edits: number;
  dropRate: number;
  insertOnly: boolean;
}

const PAGE = 4; // fetch_ops page size, small so that paging runs

function simulate(seed: number, options: Options): { server: string; clients: SimClient[]; log: CommittedOp[]; drops: number } {
  const random = prng(seed);
  const int = (n: number) => Math.floor(random() * n);
  let now = 0;
  const events: Array<{ at: number; order: number; run: () => void }> = [];
  let order = 0;
  const at = (time: number, run: () => void) => events.push({ at: time, order: order++, run });

  // ---- the server ----
  let serverText = '';
  const log: CommittedOp[] = [];
  const dedupe = new Map<string, number>();
  let seqCounter = 0;
  let drops = 0;
  let uniqueChar = 0x4e00; // CJK block: one code point each, never a surrogate pair …
  const astral = () => String.fromCodePoint(0x1f600 + (uniqueChar++ % 64)); // … and some astral ones (not unique)

  const clients: SimClient[] = [];
  const down = (c: SimClient, message: Down) => {
    if (!c.online) return;
    const epoch = c.epoch;
    c.lastDown = Math.max(c.lastDown, now + 1 + int(20));
    at(c.lastDown, () => {
      if (c.epoch === epoch) receive(c, message);
    });
  };
  const serverHandle = (c: SimClient, m: Up) => {
    if (m.kind === 'fetch') {
      const ops = log.slice(m.from, m.from + PAGE);
      down(c, { kind: 'ops', ops, head: log.length, purpose: m.purpose });
      return;
    }
    const key = `${c.peer}:${m.seq}`;
    const known = dedupe.get(key);
    if (known !== undefined) return down(c, { kind: 'ack', version: known, seq: m.seq });
    const op = transformAgainst(m.op, log.slice(m.version).map((e) => e.op));
    serverText = textType.apply(serverText, op);
    const committed: CommittedOp = { version: log.length + 1, op, peer_id: c.peer, seq: m.seq };
    log.push(committed);
    dedupe.set(key, committed.version);
    for (const other of clients) if (other !== c) down(other, { kind: 'op', op: committed });
    down(c, { kind: 'ack', version: committed.version, seq: m.seq });
  };

  // ---- the network and the clients ----
  const up = (c: SimClient, m: Up) => {
    if (!c.online) return void c.waiting.push(m);
    const epoch = c.epoch;
    c.lastUp = Math.max(c.lastUp, now + 1 + int(20));
    at(c.lastUp, () => {
      if (c.epoch === epoch) serverHandle(c, m);
      else if (m.kind === 'fetch' && m.purpose === 'gap') c.ot.fetchDone(); // the request failed: ConnectionLostError
    });
  };
  const receive = (c: SimClient, m: Down) => {
    if (m.kind === 'op') c.ot.receive(m.op);
    else if (m.kind === 'ack') c.ot.receiveAck(m.version, m.seq);
    else {
      for (const op of m.ops) c.ot.receive(op);
      const last = m.ops.length > 0 ? m.ops[m.ops.length - 1].version : m.head;
      if (last < m.head) up(c, { kind: 'fetch', from: last, purpose: m.purpose });
      else if (m.purpose === 'gap') c.ot.fetchDone();
      else c.ot.resendInflight();
    }
  };
  const dropConnection = (c: SimClient) => {
    drops++;
    c.epoch++; // everything in flight, both ways, is lost
    c.online = false;
    at(now + 5 + int(60), () => {
      c.online = true;
      c.lastUp = now;
      c.lastDown = now;
      // ChorusDocument.resume: reopen (subscribed again), catch up from our version, then resend in flight.
      up(c, { kind: 'fetch', from: c.ot.version, purpose: 'resume' });
      const waiting = c.waiting;
      c.waiting = [];
      for (const m of waiting) up(c, m);
    });
  };

  for (let i = 0; i < options.clients; i++) {
    const c: SimClient = { peer: `peer-${i}`, ot: null as unknown as OtClient, epoch: 0, online: true, waiting: [], lastUp: 0, lastDown: 0, gapFetches: 0, inserted: [] };
    c.ot = new OtClient(c.peer, 0, '', () => ++seqCounter, {
      submit: (op, version, seq) => up(c, { kind: 'submit', op, version, seq }),
      fetch: (from) => {
        c.gapFetches++;
        up(c, { kind: 'fetch', from, purpose: 'gap' });
      },
      applied: () => undefined,
      acked: () => undefined,
    });
    clients.push(c);
  }

  // ---- the edits ----
  const edit = (c: SimClient) => {
    const text = c.ot.text;
    const length = [...text].length;
    const pos = int(length + 1);
    const del = !options.insertOnly && length > 0 && random() < 0.35;
    let op: TextOp;
    if (del) {
      const n = 1 + int(Math.min(3, length - Math.min(pos, length - 1)));
      op = [Math.min(pos, length - 1), { d: n }].filter((x) => x !== 0) as TextOp;
    } else {
      const ch = options.insertOnly ? String.fromCodePoint(uniqueChar++) : random() < 0.2 ? astral() : String.fromCodePoint(0x61 + int(26));
      if (options.insertOnly) c.inserted.push(ch);
      op = pos > 0 ? [pos, ch] : [ch];
    }
    c.ot.applyLocal(op);
  };
  for (let k = 0; k < options.edits; k++) {
    const c = clients[int(clients.length)];
    at(int(options.edits * 6), () => {
      edit(c);
      if (random() < options.dropRate && c.online) dropConnection(c);
    });
  }
  // Random drops also while nobody types.
  for (let k = 0; k < options.edits * options.dropRate; k++) at(int(options.edits * 6), () => clients[int(clients.length)].online && dropConnection(clients[int(clients.length)]));

  while (events.length > 0) {
    events.sort((a, b) => a.at - b.at || a.order - b.order);
    const next = events.shift() as (typeof events)[number];
    now = next.at;
    next.run();
    if (now > 1_000_000) throw new Error(`seed ${seed}: the simulation did not settle`);
  }
  return { server: serverText, clients, log, drops };
}

describe('OtClient against a simulated server with delays, drops and reconnects', () => {
  it('every client converges to the server text, with nothing pending (mixed inserts and deletes, astral text)', () => {
    let totalDrops = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const { server, clients, log, drops } = simulate(seed, { clients: 3, edits: 60, dropRate: 0.08, insertOnly: false });
        totalDrops += drops;
        for (const c of clients) {
          expect({ seed, peer: c.peer, pending: c.ot.pending, version: c.ot.version }).toEqual({ seed, peer: c.peer, pending: false, version: log.length });
          expect(c.ot.text).toBe(server);
        }
        // A (peer, seq) is committed once: a resend never became a second op.
        expect(new Set(log.map((e) => `${e.peer_id}:${e.seq}`)).size).toBe(log.length);
      }),
      { seed: 20261201, numRuns: 60 },
    );
    expect(totalDrops).toBeGreaterThan(100); // the runs did exercise reconnects
  });

  it('every acknowledged edit is applied exactly once: each unique inserted character appears once everywhere', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const { server, clients } = simulate(seed, { clients: 4, edits: 80, dropRate: 0.1, insertOnly: true });
        const inserted = clients.flatMap((c) => c.inserted);
        expect([...server].sort()).toEqual([...inserted].sort());
        for (const c of clients) expect(c.ot.text).toBe(server);
      }),
      { seed: 7, numRuns: 60 },
    );
  });

  it('a skipped version is fetched, and ops arriving early wait for it', () => {
    const fetched: number[] = [];
    const applied: number[] = [];
    const ot = new OtClient('me', 0, '', () => 1, {
      submit: () => undefined,
      fetch: (from) => fetched.push(from),
      applied: (c) => applied.push(c.version),
      acked: () => undefined,
    });
    ot.receive({ version: 2, op: [1, 'b'], peer_id: 'x', seq: 2 });
    expect(fetched).toEqual([0]);
    expect(applied).toEqual([]);
    ot.receive({ version: 1, op: ['a'], peer_id: 'x', seq: 1 });
    ot.fetchDone();
    expect(applied).toEqual([1, 2]);
    expect(ot.text).toBe('ab');
  });

  it('an ack that overtakes the remote ops committed before it waits for them (no version skipped)', () => {
    const submitted: Array<{ version: number; seq: number }> = [];
    const ot = new OtClient('me', 0, '', () => submitted.length + 1, {
      submit: (_op, version, seq) => submitted.push({ version, seq }),
      fetch: () => undefined,
      applied: () => undefined,
      acked: () => undefined,
    });
    ot.applyLocal(['x']);
    ot.applyLocal([1, 'y']); // buffered
    ot.receiveAck(2, 1); // our op was committed after someone else's version 1
    expect(submitted).toEqual([{ version: 0, seq: 1 }]);
    ot.receive({ version: 1, op: ['a'], peer_id: 'other', seq: 9 });
    expect(ot.version).toBe(2);
    expect(ot.text).toBe('axy');
    expect(submitted).toEqual([{ version: 0, seq: 1 }, { version: 2, seq: 2 }]);
  });
});
