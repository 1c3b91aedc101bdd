'use strict';
// The three Chorus load scenarios as Artillery function steps. Each virtual user (VU) is a distinct user with
// its own client address; its parameters come from the scenario file's `config.variables`.
const { Connection, DURABLE, Fatal, Metrics, SeqTracker, watchLoop, chatSentAt, chatText, jitter, member, now, pickSession, setUpSessions, sleep } = require('./lib/chorus');

const num = (vars, name, fallback) => (vars[name] === undefined ? fallback : Number(vars[name]));

/** Runs a scenario body; a Fatal has been counted already and fails the VU with a short, stable message. */
function scenario(body) {
  return async function (context, events) {
    const metrics = new Metrics(events);
    metrics.zero('chorus.errors', 'chorus.rate_limited');
    const stopWatch = watchLoop(metrics);
    try {
      await body(context.vars, metrics, context.vars.target);
    } catch (err) {
      if (!(err instanceof Fatal)) metrics.error('vu', 'EXCEPTION', err.stack);
      throw new Error(err instanceof Fatal ? err.message : 'exception');
    } finally {
      stopWatch();
    }
  };
}

/**
 * The session's durable pushes on one connection. Pushes can arrive before the `joined` ack (the replay, and
 * live events committed while the join was in progress): they are buffered until the ack tells us our own
 * seq, then counted like the rest. `from` is the last_seq we joined with (undefined: a fresh join).
 */
class SessionWatch {
  constructor(conn, sessionId, metrics, from) {
    this.metrics = metrics;
    this.from = from;
    this.buffer = [];
    this.replayed = 0;
    for (const type of DURABLE) {
      conn.on(type, (m) => {
        if (m.session_id !== sessionId || typeof m.seq !== 'number') return;
        const item = { type, seq: m.seq, message: m.message, at: Date.now() };
        if (this.tracker) this.deliver(item);
        else this.buffer.push(item);
      });
    }
  }

  joined(seq) {
    this.joinedSeq = seq;
    this.tracker = new SeqTracker(this.from ?? seq);
    for (const item of this.buffer.splice(0)) this.deliver(item);
    // `joined.seq` is the stream position, not our own `peer_joined` (others may have joined just after us).
    // The replay (sent before the ack) skips only our own join: one hole in (last_seq, joined.seq] is ours.
    if (this.from !== undefined) {
      const holes = [];
      for (let s = this.from + 1; s <= seq; s++) if (!this.tracker.seen.has(s)) holes.push(s);
      this.tracker.own(holes.length ? holes[holes.length - 1] : seq);
    }
    this.tracker.own(seq);
  }

  deliver(item) {
    // A fresh join sees events from before it while the join is under way: not ours to count.
    if (this.from === undefined && item.seq <= this.joinedSeq) return;
    this.tracker.push(item.seq);
    const replay = item.seq <= this.joinedSeq;
    if (replay) this.replayed++;
    if (item.type !== 'chat_message') return;
    const sentAt = chatSentAt(item.message);
    if (sentAt === undefined) return;
    if (replay) this.metrics.count('chorus.chat.replayed');
    else {
      this.metrics.hist('chorus.fanout.chat_ms', item.at - sentAt);
      this.metrics.count('chorus.chat.received');
    }
  }
}

/**
 * (1) Join-and-chat storm across many sessions. VUs arrive, are spread round-robin over `sessions` sessions,
 * redeem the invite, connect, join, send `messages` chat messages `messageIntervalMs` apart, listen
 * `drainMs` more, leave. Delivery is exact: every durable event of the session between our join and the
 * last event we saw must reach us (SeqTracker) — membership may change all the while.
 */
const joinAndChat = scenario(async (vars, metrics, base) => {
  metrics.zero('chorus.delivery.expected', 'chorus.delivery.delivered', 'chorus.chat.sent', 'chorus.chat.received');
  const session = await pickSession(vars, base, metrics, 'storm', num(vars, 'sessions', 10));
  const me = await member(base, metrics, 'storm', session, vars);
  const conn = await Connection.open(base, me.token, metrics);
  const watch = new SessionWatch(conn, me.sessionId, metrics, undefined);
  try {
    const joined = await conn.request('join', { session_id: me.sessionId, peer_id: me.peerId, join_token: await me.joinToken() });
    if (!joined) throw new Fatal('join failed');
    watch.joined(joined.seq);
    await sleep(jitter(num(vars, 'settleMs', 500)));
    const messages = num(vars, 'messages', 5);
    for (let i = 0; i < messages; i++) {
      const ack = await conn.request('chat_message', { session_id: me.sessionId, message: chatText(me.peerId, i) });
      if (ack) {
        metrics.count('chorus.chat.sent');
        watch.tracker.own(ack.seq);
      }
      if (i < messages - 1) await sleep(jitter(num(vars, 'messageIntervalMs', 1000)));
    }
    await sleep(num(vars, 'drainMs', 2000));
    watch.tracker.report(metrics, 'chorus.delivery', `session ${me.sessionId} peer ${me.peerId} joined at ${watch.joinedSeq}`);
    await conn.close({ leave: true, sessionId: me.sessionId });
  } finally {
    await conn.close();
  }
});

/**
 * (2) Many users editing one document with cursors. All VUs of this worker share one session (arrivalCount
 * phases run in a single worker) and the document `docId`. Time-boxed from the first arrival: VUs join
 * during `joinWindowS`; the ones ready then edit for `editS` (one op in flight each, an insert stamped with
 * its send time, every `opIntervalMs`) and move their cursor every `presenceIntervalMs` (stamped in
 * `active_file`); then everyone listens `drainS` and leaves. Expected op deliveries = acked ops × (ready − 1).
 */
let editClock;
const editDocument = scenario(async (vars, metrics, base) => {
  metrics.zero('chorus.edit.ready', 'chorus.edit.late', 'chorus.edit.ops_acked', 'chorus.edit.op_deliveries', 'chorus.edit.presence_acked', 'chorus.edit.presence_deliveries');
  // One clock for every worker: the end of the `before` flow (a shared variable) plus the time Artillery takes to
  // start its workers after it (`workerStartS`; several seconds on a loaded machine), else this worker's first
  // arrival (a scenario file without `before`).
  editClock ??= vars.chorusStartedAt === undefined ? Date.now() : Number(vars.chorusStartedAt) + num(vars, 'workerStartS', 10) * 1000;
  const editStart = editClock + num(vars, 'joinWindowS', 45) * 1000;
  const editEnd = editStart + num(vars, 'editS', 60) * 1000;
  const drainEnd = editEnd + num(vars, 'drainS', 5) * 1000;
  const docId = vars.docId ?? 'src/shared.ts';

  const session = await pickSession(vars, base, metrics, 'edit', 1);
  const me = await member(base, metrics, 'edit', session, vars);
  const conn = await Connection.open(base, me.token, metrics);
  try {
    const joined = await conn.request('join', { session_id: me.sessionId, peer_id: me.peerId, join_token: await me.joinToken() });
    if (!joined) throw new Fatal('join failed');
    const doc = new DocTracker();
    let counting = false;
    const lastPresence = new Map();
    conn.on('op', (m) => {
      if (m.doc_id !== docId) return;
      doc.receive(m.version, m.op);
      const sentAt = stampOf(m.op);
      if (counting && sentAt !== undefined && m.peer_id !== me.peerId) {
        metrics.hist('chorus.fanout.op_ms', Date.now() - sentAt);
        metrics.count('chorus.edit.op_deliveries');
      }
    });
    conn.on('conflict_detected', () => metrics.count('chorus.edit.conflict_detected'));
    const onPresence = (view) => {
      const stamp = /^lt\/([0-9a-z]+)$/.exec(view?.active_file ?? '')?.[1];
      if (!counting || !stamp || view.peer_id === me.peerId) return;
      const sentAt = parseInt(stamp, 36);
      // Only the first sight of each stamp: the server also re-sends cursors it moved for committed ops.
      if (sentAt <= (lastPresence.get(view.peer_id) ?? 0)) return;
      lastPresence.set(view.peer_id, sentAt);
      metrics.hist('chorus.fanout.presence_ms', Date.now() - sentAt);
      metrics.count('chorus.edit.presence_deliveries');
    };
    // Others' presence arrives as `presence_update` pushes, or gathered in `presence_batch` (newer gateways).
    conn.on('presence_update', onPresence);
    conn.on('presence_batch', (m) => {
      for (const view of m.peers ?? []) onPresence(view);
    });
    const opened = await conn.request('open_document', { session_id: me.sessionId, doc_id: docId });
    if (!opened) throw new Fatal('open_document failed');
    doc.open(opened.version, opened.content);
    if (Date.now() >= editStart) {
      metrics.count('chorus.edit.late'); // arrived after the edit window opened: not counted as a receiver
      await conn.close({ leave: true, sessionId: me.sessionId });
      return;
    }
    metrics.count('chorus.edit.ready');
    counting = true;
    await sleep(editStart - Date.now());

    let seq = 0;
    const typing = (async () => {
      await sleep(Math.random() * num(vars, 'opIntervalMs', 2000)); // desynchronise the first ops
      while (Date.now() < editEnd) {
        const text = `<${Date.now().toString(36)}>`;
        const pos = Math.floor(Math.random() * (doc.length + 1));
        const ack = await conn.request('submit_op', { session_id: me.sessionId, doc_id: docId, version: doc.version, op: pos === 0 ? [text] : [pos, text], seq: ++seq });
        if (ack) {
          metrics.count('chorus.edit.ops_acked');
          doc.receive(ack.version, [text]);
        }
        await sleep(jitter(num(vars, 'opIntervalMs', 2000)));
      }
    })();
    const cursor = (async () => {
      await sleep(Math.random() * num(vars, 'presenceIntervalMs', 2000));
      while (Date.now() < editEnd) {
        const at = Math.floor(Math.random() * (doc.length + 1));
        const ack = await conn.request('presence_update', { session_id: me.sessionId, doc_id: docId, active_file: `lt/${Date.now().toString(36)}`, selection: { anchor: at, head: at } });
        if (ack) metrics.count('chorus.edit.presence_acked');
        await sleep(jitter(num(vars, 'presenceIntervalMs', 2000)));
      }
    })();
    await Promise.all([typing, cursor]);
    await sleep(drainEnd - Date.now());
    counting = false;
    metrics.count('chorus.edit.version_gaps', doc.gaps);
    await conn.close({ leave: true, sessionId: me.sessionId });
  } finally {
    await conn.close();
  }
});

/** The insert of a load-test op: "<base36 epoch ms>". */
function stampOf(op) {
  for (const c of op) if (typeof c === 'string') return parseInt(c.slice(1, -1), 36);
  return undefined;
}

/**
 * What a client must know to submit valid ops: the last version it has in order, and the document length
 * at that version (code points). Ops arrive as broadcasts or as our own acks, possibly out of order.
 */
class DocTracker {
  open(version, content) {
    this.version = version;
    this.length = [...content].length;
    this.pending = new Map();
  }
  receive(version, op) {
    if (this.pending === undefined || version <= this.version) return;
    this.pending.set(version, op);
    while (this.pending.has(this.version + 1)) {
      const next = this.pending.get(this.version + 1);
      this.pending.delete(this.version + 1);
      this.length += opDelta(next);
      this.version++;
    }
  }
  /** Versions still missing below the highest one received (lost or late broadcasts). */
  get gaps() {
    return this.pending === undefined || this.pending.size === 0 ? 0 : Math.max(...this.pending.keys()) - this.version - this.pending.size;
  }
}

function opDelta(op) {
  let d = 0;
  for (const c of op) {
    if (typeof c === 'string') d += [...c].length;
    else if (c && typeof c === 'object') d -= typeof c.d === 'number' ? c.d : [...String(c.d)].length;
  }
  return d;
}

/**
 * (3) Reconnect churn. VUs are spread over `sessions` sessions; each makes `cycles` cycles of: connect (round
 * robin: often the other gateway), join with `last_seq`, one stamped chat message, stay `stayMs`, then
 * either `leave` + close or drop the connection (`dropRatio`), stay offline `offlineMs`. On every rejoin the
 * replay plus live events must cover every seq after `last_seq` exactly once.
 */
const reconnectChurn = scenario(async (vars, metrics, base) => {
  metrics.zero('chorus.delivery.expected', 'chorus.delivery.delivered', 'chorus.churn.rejoins', 'chorus.churn.not_recovered', 'chorus.chat.sent', 'chorus.chat.received');
  const session = await pickSession(vars, base, metrics, 'churn', num(vars, 'sessions', 10));
  const me = await member(base, metrics, 'churn', session, vars);
  let lastSeq;
  let previous = 'none';
  const cycles = num(vars, 'cycles', 5);
  for (let cycle = 0; cycle < cycles; cycle++) {
    const conn = await Connection.open(base, me.token, metrics);
    const watch = new SessionWatch(conn, me.sessionId, metrics, lastSeq);
    try {
      const started = now();
      const joined = await conn.request('join', { session_id: me.sessionId, peer_id: me.peerId, join_token: await me.joinToken(), ...(lastSeq === undefined ? {} : { last_seq: lastSeq }) });
      if (!joined) throw new Fatal('join failed');
      watch.joined(joined.seq);
      if (lastSeq !== undefined) {
        metrics.count('chorus.churn.rejoins');
        metrics.hist('chorus.churn.rejoin_ms', now() - started);
        metrics.hist('chorus.churn.replayed_events', watch.replayed);
        if (!joined.recovered) metrics.count('chorus.churn.not_recovered');
      }
      await sleep(jitter(num(vars, 'stayMs', 3000) / 3));
      const ack = await conn.request('chat_message', { session_id: me.sessionId, message: chatText(me.peerId, cycle) });
      if (ack) {
        metrics.count('chorus.chat.sent');
        watch.tracker.own(ack.seq);
      }
      await sleep(jitter((num(vars, 'stayMs', 3000) * 2) / 3));
      watch.tracker.report(metrics, 'chorus.delivery', `session ${me.sessionId} peer ${me.peerId} cycle ${cycle} on ${conn.node} joined at ${watch.joinedSeq} (last_seq ${lastSeq}; previous connection: ${previous})`);
      lastSeq = watch.tracker.contiguous;
      const leave = Math.random() >= num(vars, 'dropRatio', 0.5);
      previous = `${conn.node}, ${leave ? 'left' : 'dropped'}`;
      await conn.close({ leave, sessionId: me.sessionId });
    } finally {
      await conn.close();
    }
    if (cycle < cycles - 1) await sleep(jitter(num(vars, 'offlineMs', 1500)));
  }
});

module.exports = { joinAndChat, editDocument, reconnectChurn, setUpStorm: setUpSessions('storm'), setUpEdit: setUpSessions('edit'), setUpChurn: setUpSessions('churn') };
