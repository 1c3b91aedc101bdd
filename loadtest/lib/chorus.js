'use strict';
// The Chorus client the scenarios share: REST set-up (tokens: lib/tokens.js; sessions, invites), connections
// through the SDK — the built @chorus/client (libs/client/dist, `npm run build:packages`; linked in by
// package.json's `file:` dependencies) with its Socket.IO wire, connect/hello and request/ack code — and metric
// helpers. Artillery's built-in `socketio` engine does use socket.io-client 4, but it cannot tell an
// `{type:'error'}` ack from a reply, stamp broadcasts or count deliveries, so the scenarios are custom functions
// (`flow: - function: …`) over the SDK's ChorusClient, one connection per client (`reconnect: false`: the
// churn scenario reconnects by itself, with its own `last_seq`, to measure that).
//
// Metrics (all reported through Artillery's `events.emit`):
//   histograms  chorus.connect_ms, chorus.rest_ms, chorus.ack.<type>_ms (emit → successful ack),
//               chorus.fanout.<chat|op|presence>_ms (receive time − the publisher's stamp, same machine clock)
//   counters    chorus.errors (total) and chorus.errors.<what>.<code>; chorus.rate_limited (total) and
//               chorus.rate_limited.<what> — a RATE_LIMITED answer is counted there, never as an error.
const { readFileSync } = require('node:fs');
// The SDK is ESM (dist/package.json type: module): require(esm), Node >= 22.12 (the load tests need 22.18).
const { ChorusClient, ChorusError, ClientClosedError, ConnectionLostError, RequestTimeoutError } = require('@chorus/client');
const { accessTokenFor, tokenSource } = require('./tokens');

const REQUEST_TIMEOUT_MS = 15_000;
const RUN = process.env.CHORUS_LT_RUN || `lt${Date.now().toString(36)}`;
let vuCounter = 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const now = () => performance.now();
const jitter = (ms, spread = 0.5) => ms * (1 - spread / 2 + Math.random() * spread);

/** Errors after the first few per key are counted but not printed (the load generator must stay quiet). */
const printed = new Map();
function logOnce(key, message) {
  const n = (printed.get(key) ?? 0) + 1;
  printed.set(key, n);
  if (n <= (Number(process.env.CHORUS_LT_LOG_LIMIT) || 3)) process.stderr.write(`[chorus-lt] ${message}${n === (Number(process.env.CHORUS_LT_LOG_LIMIT) || 3) ? ' (further ones not printed)' : ''}\n`);
}

/** Metrics of one virtual user. Counters that thresholds divide by are created at 0 so `ensure` sees them. */
class Metrics {
  constructor(events) {
    this.events = events;
  }
  count(name, n = 1) {
    this.events.emit('counter', name, n);
  }
  hist(name, value) {
    this.events.emit('histogram', name, value);
  }
  error(what, code, detail) {
    this.count('chorus.errors');
    this.count(`chorus.errors.${what}.${code}`);
    logOnce(`${what}.${code}`, `error ${what}: ${code}${detail ? ` — ${detail}` : ''}`);
  }
  rateLimited(what) {
    this.count('chorus.rate_limited');
    this.count(`chorus.rate_limited.${what}`);
  }
  zero(...names) {
    for (const name of names) this.count(name, 0);
  }
}

/**
 * The load generator's own event-loop delay, sampled by every virtual user once a second: fan-out and ack
 * latencies include it (all clients share one Node process per Artillery worker), so it bounds how much of
 * a latency is the client's rather than Chorus's.
 */
function watchLoop(metrics, periodMs = 1000) {
  let expected = now() + periodMs;
  const timer = setInterval(() => {
    const t = now();
    metrics.hist('chorus.loadgen.loop_delay_ms', Math.max(0, t - expected));
    expected = t + periodMs;
  }, periodMs);
  return () => clearInterval(timer);
}

/** A failure that ends the virtual user (Artillery counts it under errors.<message> and vusers.failed). */
class Fatal extends Error {}

/** A distinct user and client address per virtual user: per-user and per-IP limits are not the bottleneck. */
function identity(prefix) {
  const n = ++vuCounter;
  const p = process.pid % 250;
  return {
    userId: `${RUN}-${prefix}-${process.pid}-${n}`,
    // REST limits count per client address (the first X-Forwarded-For hop, as behind the ingress).
    ip: `10.${p}.${(n >> 8) & 255}.${n & 255}`,
    n,
  };
}

class Rest {
  constructor(base, metrics, ip) {
    this.base = base.replace(/\/$/, '');
    this.metrics = metrics;
    this.ip = ip;
  }

  /** One REST call; RATE_LIMITED is counted and retried after retry_after_ms (3 tries), anything else is fatal. */
  async call(method, path, { token, body, what } = {}) {
    for (let attempt = 1; ; attempt++) {
      const started = now();
      let res;
      let text;
      try {
        res = await fetch(this.base + path, {
          method,
          headers: { 'content-type': 'application/json', 'x-forwarded-for': this.ip, ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        text = await res.text();
      } catch (err) {
        this.metrics.error(`rest.${what}`, err.name === 'TimeoutError' ? 'TIMEOUT' : 'NETWORK', err.message);
        throw new Fatal(`rest ${what} failed`);
      }
      const parsed = text ? safeJson(text) : undefined;
      if (res.ok) {
        this.metrics.hist('chorus.rest_ms', now() - started);
        return parsed;
      }
      if (res.status === 429 && attempt < 3) {
        this.metrics.rateLimited(`rest.${what}`);
        await sleep(Math.min(Number(parsed?.retry_after_ms ?? 1000), 10_000));
        continue;
      }
      this.metrics.error(`rest.${what}`, parsed?.code ?? `HTTP_${res.status}`, `${method} ${path} → ${res.status} ${text.slice(0, 200)}`);
      throw new Fatal(`rest ${what} failed`);
    }
  }

  async devToken(userId, displayName) {
    const r = await this.call('POST', '/api/v1/auth/dev-token', { body: { user_id: userId, display_name: displayName, kind: 'human' }, what: 'dev_token' });
    return r.access_token;
  }
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The host that creates the sessions: the file's first row (skipped by the payload), else like any user. */
async function hostToken(rest, userId, displayName) {
  const source = tokenSource();
  if (source.kind !== 'file') return accessTokenFor({}, rest, userId, displayName);
  const [first] = readFileSync(source.path, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const [hostId, hostTokenValue] = (first ?? '').split(',').map((x) => x.trim());
  if (!hostTokenValue) throw new Fatal(`${source.path}: the first line must be "user_id,token" of the host that creates the sessions`);
  return { userId: hostId, token: hostTokenValue };
}

/**
 * The sessions of a run, shared by every virtual user on every Artillery worker: the scenario's `before` flow
 * (setUpSessions) creates them once and Artillery hands its variables to all VUs (vars.chorusSessions). Without
 * a `before` (an old scenario file), each worker creates its own pool, as before.
 */
function setUpSessions(key) {
  return async function (context, events) {
    const metrics = new Metrics(events);
    const count = context.vars.sessions === undefined ? 1 : Number(context.vars.sessions);
    context.vars.chorusSessions = await createSessions(context.vars.target, metrics, key, count, 1000);
    context.vars.chorusStartedAt = Date.now();
  };
}

/** This VU's session: from the run's shared list (round robin by VU), or the worker's own pool. */
let shared = 0;
function pickSession(vars, base, metrics, key, count) {
  const list = vars.chorusSessions;
  if (Array.isArray(list) && list.length > 0) {
    metrics.count('chorus.sessions.from_before');
    return Promise.resolve(list[shared++ % list.length]);
  }
  metrics.count('chorus.sessions.worker_pool');
  return sessionPool(base, metrics, key, count, 1000);
}

/**
 * Sessions shared by the virtual users of this worker, created once by a host user over REST: each with an
 * invite code that any number of users can redeem.
 */
const pools = new Map();
function sessionPool(base, metrics, key, count, maxParticipants) {
  if (!pools.has(key)) {
    const promise = createSessions(base, metrics, key, count, maxParticipants);
    promise.catch(() => pools.delete(key)); // the next virtual user tries again
    pools.set(key, { promise, next: 0 });
  }
  const pool = pools.get(key);
  return pool.promise.then((sessions) => sessions[pool.next++ % sessions.length]);
}

/** `count` sessions, each with an editor invite code any number of users can redeem: [{sessionId, code}]. */
async function createSessions(base, metrics, key, count, maxParticipants) {
  const host = identity(`host-${key}`);
  const rest = new Rest(base, metrics, host.ip);
  const { token } = await hostToken(rest, host.userId, `Host ${key}`);
  const sessions = [];
  for (let i = 0; i < count; i++) {
    const s = await rest.call('POST', '/api/v1/collaboration/sessions', { token, body: { name: `load ${key} ${i}`, max_participants: maxParticipants }, what: 'create_session' });
    const invite = await rest.call('POST', `/api/v1/collaboration/sessions/${s.session_id}/invite`, { token, body: { role: 'editor' }, what: 'invite' });
    sessions.push({ sessionId: s.session_id, code: invite.code });
  }
  return sessions;
}

/** A user of a session: access token, join token (from redeeming the invite), and a fresh join token on demand. */
async function member(base, metrics, prefix, session, vars = {}) {
  const generated = identity(prefix);
  const rest = new Rest(base, metrics, generated.ip);
  const { userId, token } = await accessTokenFor(vars, rest, generated.userId, `Load ${generated.n}`);
  const id = { ...generated, userId };
  const redeemed = await rest.call('POST', `/api/v1/collaboration/invites/${session.code}/redeem`, { token, body: {}, what: 'redeem' });
  let joinToken = redeemed.join_token;
  let joinTokenAt = Date.now();
  return {
    ...id,
    token,
    peerId: `${id.userId}-p`,
    sessionId: session.sessionId,
    /** Join tokens live JOIN_TOKEN_TTL_S (300 s by default): renew through REST when older than 4 minutes. */
    async joinToken() {
      if (Date.now() - joinTokenAt > 240_000) {
        joinToken = (await rest.call('POST', `/api/v1/collaboration/sessions/${session.sessionId}/join`, { token, body: {}, what: 'join_token' })).join_token;
        joinTokenAt = Date.now();
      }
      return joinToken;
    },
  };
}

/** One connection to Chorus: an SDK ChorusClient (Socket.IO wire) that does not reconnect by itself. */
class Connection {
  static async open(base, token, metrics) {
    const started = now();
    const client = new ChorusClient({ url: base, token, reconnect: false, heartbeat: false, requestTimeoutMs: REQUEST_TIMEOUT_MS, onWarning: (message) => logOnce(`sdk.${message}`, `sdk: ${message}`) });
    const conn = new Connection(client, metrics);
    let refusal;
    client.once('closed', (c) => (refusal = c.error));
    try {
      // Resolves at the server's `hello` (the connection is live), rejects when the handshake is refused.
      await client.connect();
    } catch (err) {
      conn.closing = true;
      client.close();
      metrics.error('connect', refusal?.code ?? 'CONNECT_ERROR', refusal?.message ?? err.message);
      throw new Fatal('connect failed');
    }
    metrics.hist('chorus.connect_ms', now() - started);
    return conn;
  }

  constructor(client, metrics) {
    this.client = client;
    this.metrics = metrics;
    this.closing = false;
    /** Push handlers by message type, fed by the SDK's `message` tap (every push, of any session). */
    this.handlers = new Map();
    client.on('hello', (m) => (this.node = m?.node_id));
    client.on('message', (m) => {
      for (const handler of this.handlers.get(m?.type) ?? []) handler(m);
    });
    client.on('disconnected', ({ reason, notice }) => {
      if (!this.closing) metrics.error('socket', 'DISCONNECTED', notice ? `${reason} (${notice.name})` : reason);
    });
    // An error outside a request (e.g. a membership ended by the server) is pushed as an `error` event.
    client.on('error', (e) => metrics.error('push', e.code ?? 'UNKNOWN', e.message));
  }

  get connected() {
    return this.client.state === 'connected';
  }

  /** request → ack through the SDK. Returns the reply, or undefined after counting the error (or the rate limit). */
  async request(type, body) {
    const started = now();
    let reply;
    try {
      reply = await this.client.request(type, body, { timeoutMs: REQUEST_TIMEOUT_MS });
    } catch (err) {
      if (err instanceof RequestTimeoutError) this.metrics.error(type, 'TIMEOUT', err.message);
      else if (err instanceof ConnectionLostError || err instanceof ClientClosedError || !(err instanceof ChorusError)) this.metrics.error(type, 'DISCONNECTED', err.message);
      else if (err.code === 'RATE_LIMITED') this.metrics.rateLimited(type);
      else this.metrics.error(type, err.code, err.message);
      return undefined;
    }
    this.metrics.hist(`chorus.ack.${type}_ms`, now() - started);
    return reply;
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
  }

  /** `leave` first for a clean exit, or just drop the connection (a tab closed, a network cut). */
  async close({ leave, sessionId } = {}) {
    if (leave && this.connected) await this.request('leave', { session_id: sessionId });
    this.closing = true;
    this.client.close();
  }
}

/** The session's durable events (they carry the session `seq`); `op`/`op_ack` carry the peer's own seq. */
const DURABLE = new Set(['peer_joined', 'peer_left', 'chat_message', 'session_event']);

/**
 * Exact delivery accounting for a session's durable stream on one connection: every event with a seq in
 * (from, upTo] must be seen exactly once — as a push, or as our own event's seq (own join, own chat acks),
 * which the server never pushes back to us. `upTo` is the highest seq seen.
 */
class SeqTracker {
  constructor(from) {
    this.from = from;
    this.seen = new Set();
    this.max = from;
    this.duplicates = 0;
    this.outOfOrder = 0;
    this.lastPushed = from;
  }
  push(seq) {
    if (seq <= this.from || this.seen.has(seq)) this.duplicates++;
    if (seq < this.lastPushed) this.outOfOrder++;
    this.lastPushed = Math.max(this.lastPushed, seq);
    this.own(seq);
  }
  own(seq) {
    if (seq <= this.from) return;
    this.seen.add(seq);
    this.max = Math.max(this.max, seq);
  }
  get expected() {
    return this.max - this.from;
  }
  get delivered() {
    let n = 0;
    for (const s of this.seen) if (s <= this.max) n++;
    return n;
  }
  /** The highest seq with nothing missing below it: the next `last_seq`. */
  get contiguous() {
    let s = this.from;
    while (this.seen.has(s + 1)) s++;
    return s;
  }
  /** The seqs in (from, max] never seen: each one a durable event that did not reach this connection. */
  missing() {
    const out = [];
    for (let s = this.from + 1; s <= this.max; s++) if (!this.seen.has(s)) out.push(s);
    return out;
  }
  report(metrics, prefix, context = '') {
    const missing = this.missing();
    if (missing.length) logOnce(`${prefix}.missing`, `${prefix}: missing seqs ${missing.slice(0, 10).join(',')} of (${this.from}, ${this.max}] ${context}`);
    metrics.count(`${prefix}.expected`, this.expected);
    metrics.count(`${prefix}.delivered`, this.delivered);
    if (this.duplicates) metrics.count(`${prefix}.duplicates`, this.duplicates);
    if (this.outOfOrder) metrics.count(`${prefix}.out_of_order`, this.outOfOrder);
  }
}

/** Chat messages carry the publisher's send time: "lt <epoch ms> <peer>#<n>". */
const chatText = (peerId, n) => `lt ${Date.now()} ${peerId}#${n}`;
function chatSentAt(message) {
  const m = /^lt (\d{13}) /.exec(message ?? '');
  return m ? Number(m[1]) : undefined;
}

module.exports = { Connection, Fatal, Metrics, watchLoop, Rest, SeqTracker, DURABLE, chatSentAt, chatText, identity, jitter, member, now, pickSession, sessionPool, setUpSessions, sleep };
