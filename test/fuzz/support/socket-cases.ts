import { CLIENT_EXAMPLES, CLIENT_MESSAGES, type ClientMessageType } from '@chorus/protocol';
import type { Seeded } from './seeded';

// Malformed and hostile Socket.IO messages, derived from the one valid example of every client message type
// (libs/protocol examples). Each case says what the server may answer:
// - `refused`: malformed by construction (a wrong JSON type, a missing required field, an unknown field, a NUL
//   or a lone surrogate in a string, a non-object payload, nesting past the depth limit, an unknown type):
//   only VALIDATION_ERROR, PAYLOAD_TOO_LARGE or RATE_LIMITED will do.
// - `denied`: well formed, but aimed at a session the sender is not in: PERMISSION_DENIED, NOT_FOUND,
//   VALIDATION_ERROR (a join token for another session) or RATE_LIMITED — never a success.
// - `typed`: well formed with odd values in the sender's own session (versions ahead of head, deletes past the
//   end, locks of random files): any typed answer or the message's reply, but never SERVER_ERROR/UNAVAILABLE.

// - `rejected`: any typed error but SERVER_ERROR/UNAVAILABLE (a join token that is garbage may be refused as
//   malformed or as unauthenticated).
export type Expectation = 'refused' | 'denied' | 'typed' | 'rejected';

export interface SocketCase {
  readonly label: string;
  readonly event: string;
  readonly payload: unknown;
  readonly expect: Expectation;
}

export interface SocketTargets {
  /** The session the attackers are members of (editors). */
  readonly ownSession: string;
  /** A session they are not in. */
  readonly victimSession: string;
  /** A valid join token of the attacker for its own session (a second join is refused: already joined). */
  readonly ownJoinToken: string;
}

const EXAMPLE_SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const TYPES = Object.keys(CLIENT_MESSAGES) as ClientMessageType[];
/** Types whose valid form changes the sender's own standing (leave): fuzzed only in malformed or cross-session form. */
const DESTRUCTIVE: ReadonlySet<ClientMessageType> = new Set(['leave']);

/** Strings that Postgres text cannot store or that are not valid UTF-8. */
const UNSTORABLE = ['a\u0000b', '\u0000', 'x\ud800', '\udc00y', 'ok\ud83d', '\ud83d\ud83d'];
/** Property names with meaning to JavaScript objects. */
const SNEAKY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'];
const HOSTILE_EVENTS = ['nope', '', '\u0000', 'join\u0000', 'x'.repeat(10_000), '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'JOIN', 'join ', 'op.submit', 'session.chat'];

/**
 * JSON text sent as it is: nesting deep enough to overflow a recursive walk (JSON.stringify included, so no
 * client library could encode it) is sent as a raw Socket.IO packet.
 */
export class RawJson {
  constructor(readonly text: string) {}
}

/** `{"a":{"a":…}}` nested `depth` levels: small in bytes, deep enough to overflow a recursive walk. */
export function deepObjectJson(depth: number, inner = '1'): string {
  return `${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`;
}

export function deepArrayJson(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/** A JSON object with an own `__proto__` key (as JSON.parse makes it), not a prototype change. */
function withOwnKey(base: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const copy = { ...base };
  Object.defineProperty(copy, key, { value, enumerable: true, configurable: true, writable: true });
  return copy;
}

function baseOf(type: ClientMessageType, t: SocketTargets, session: string): Record<string, unknown> {
  const example = { ...(CLIENT_EXAMPLES[type] as Record<string, unknown>) };
  delete example.type;
  if ('session_id' in example) example.session_id = example.session_id === EXAMPLE_SESSION ? session : example.session_id;
  if (type === 'join') Object.assign(example, { join_token: t.ownJoinToken, peer_id: 'fuzz-peer' });
  return example;
}

/** Values of another JSON type than `example`'s that no schema field of that type accepts. */
function wrongTypes(key: string, example: unknown): unknown[] {
  const objects: unknown[] = [{}, [], { toString: 1 }, [1, 2]];
  if (key === 'id') return [{}, [], true, -1, 1.5, 'x'.repeat(65)];
  if (typeof example === 'string') return [42, true, ...objects];
  if (typeof example === 'number') return ['12', true, 1.5, -1, 2 ** 60, ...objects];
  if (typeof example === 'boolean') return ['true', 1, ...objects];
  if (Array.isArray(example)) return ['x', 7, { 0: 1 }, true];
  if (typeof example === 'object' && example !== null) return ['x', 7, [], true];
  return [];
}

function requiredKeys(type: ClientMessageType): string[] {
  const shape = (CLIENT_MESSAGES[type].schema as unknown as { shape: Record<string, { safeParse(v: unknown): { success: boolean } }> }).shape;
  return Object.keys(shape).filter((k) => k !== 'type' && !shape[k].safeParse(undefined).success);
}

/** Every string field of a payload (one level; ops are handled on their own). */
function stringKeys(payload: Record<string, unknown>): string[] {
  return Object.keys(payload).filter((k) => typeof payload[k] === 'string');
}

const BAD_OPS: unknown[] = [
  [0],
  [-3, 'x'],
  [1.5],
  [''],
  [{ d: 0 }],
  [{ d: -1 }],
  [{ d: '' }],
  [{ d: 1, x: 1 }],
  [{}],
  [null],
  [[1]],
  [true],
  [{ d: { toString: 1 } }],
  ['a\u0000b'],
  ['\ud800'],
  [{ d: 'x\udc00' }],
  Array.from({ length: 10_001 }, () => 1),
  'insert',
  { 0: 'x' },
];

/** The malformed cases of one message type, in a fixed order (the run samples them with the seed). */
function malformedOf(type: ClientMessageType, t: SocketTargets): SocketCase[] {
  const base = baseOf(type, t, t.ownSession);
  const out: SocketCase[] = [];
  const add = (label: string, payload: unknown, expect: Expectation = 'refused') => out.push({ label: `${type}: ${label}`, event: type, payload, expect });
  for (const key of requiredKeys(type)) {
    const { [key]: _gone, ...rest } = base;
    // A connection in exactly one session may leave session_id out (the seed clients' frames): then the message
    // is about that session — well formed, so any typed answer. Not for `leave`, which would end the attack.
    if (key === 'session_id') {
      if (!DESTRUCTIVE.has(type)) add('without session_id (the one joined session)', rest, 'typed');
      continue;
    }
    add(`without ${key}`, rest);
  }
  for (const key of Object.keys(base)) for (const value of wrongTypes(key, base[key])) add(`${key} = ${JSON.stringify(value).slice(0, 40)}`, { ...base, [key]: value });
  for (const key of stringKeys(base)) {
    for (const value of UNSTORABLE) {
      if (key === 'join_token') add(`join_token with unstorable text ${JSON.stringify(value)}`, { ...base, join_token: `${value}${'t'.repeat(20)}` }, 'rejected');
      else add(`${key} with unstorable text ${JSON.stringify(value)}`, { ...base, [key]: value });
    }
    add(`${key} 100 000 characters`, { ...base, [key]: 'y'.repeat(100_000) });
  }
  for (const key of SNEAKY_KEYS) add(`own key ${key}`, withOwnKey(base, key, { polluted: true }));
  add('unknown field', { ...base, extra_field: 1 });
  add('type contradicts the event', { ...base, type: TYPES.find((x) => x !== type) });
  add('type is an object with toString', { ...base, type: { toString: 1 } });
  for (const payload of ['text', 42, true, null, [], [base]]) add(`payload ${JSON.stringify(payload).slice(0, 30)}`, payload);
  add('payload nested 5 000 levels', new RawJson(deepObjectJson(5_000)));
  add('payload arrays nested 5 000 levels', new RawJson(deepArrayJson(5_000)));
  add('payload nested 300 levels', new RawJson(deepObjectJson(300)));
  add('a field nested 5 000 levels deep', new RawJson(JSON.stringify(base).replace(/\}$/, `,"nested":${deepObjectJson(5_000)}}`)));
  add('a field nested 100 000 levels deep (200 KB)', new RawJson(JSON.stringify(base).replace(/\}$/, `,"nested":${deepArrayJson(100_000)}}`)));
  add('10 000 unknown keys', { ...base, ...Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i])) });
  add('payload a Buffer', Buffer.from('{"session_id":"x"}'));
  add('field a Buffer', { ...base, [Object.keys(base).find((k) => k !== 'id') ?? 'x']: Buffer.from([0, 1, 2]) });
  if (type === 'submit_op') for (const op of BAD_OPS) add(`op ${JSON.stringify(op).slice(0, 40)}`, { ...base, op });
  if (type === 'presence_update') for (const selection of [{ anchor: -1, head: 0 }, { anchor: 1.5, head: 0 }, { anchor: 0 }, { anchor: 0, head: 0, x: 1 }]) add(`selection ${JSON.stringify(selection)}`, { ...base, selection });
  if ('doc_id' in base) for (const doc of ['/abs', 'a//b', '../etc/passwd', 'a/./b', 'a\\b', 'a\u0007b', 'x'.repeat(1_025)]) add(`doc_id ${JSON.stringify(doc).slice(0, 30)}`, { ...base, doc_id: doc });
  if ('peer_id' in base) for (const peer of ['a b', 'ä', '', 'x'.repeat(65), 'a/b']) add(`peer_id ${JSON.stringify(peer).slice(0, 30)}`, { ...base, peer_id: peer });
  if ('session_id' in base) for (const sid of ['not-a-uuid', '00000000-0000-0000-0000-00000000000g', `${t.ownSession} `, t.ownSession.toUpperCase().replace(/-/g, '')]) add(`session_id ${JSON.stringify(sid)}`, { ...base, session_id: sid });
  return out;
}

/** Well-formed messages aimed at the victim's session. */
function crossSessionOf(type: ClientMessageType, t: SocketTargets): SocketCase[] {
  if (type === 'ping') return [];
  const payload = baseOf(type, t, t.victimSession);
  if (!('session_id' in payload)) return [];
  if (type === 'submit_op') Object.assign(payload, { version: 0, op: ['stolen'] });
  if (type === 'fetch_ops') Object.assign(payload, { from_version: 0 });
  if (type === 'lock_file') Object.assign(payload, { ttl_ms: 5_000 });
  if (type === 'unlock_file') Object.assign(payload, { force: true });
  return [{ label: `${type}: into the victim's session`, event: type, payload, expect: 'denied' }];
}

/** Well-formed messages with random values in the attacker's own session. */
function oddValid(type: ClientMessageType, t: SocketTargets, rng: Seeded): SocketCase | undefined {
  if (DESTRUCTIVE.has(type) || type === 'join') return undefined;
  const payload = baseOf(type, t, t.ownSession);
  const doc = rng.pick(['fuzz/a.txt', 'fuzz/b.txt', 'fuzz/ü/ñ.rs', 'src/main.rs']);
  if ('doc_id' in payload) payload.doc_id = doc;
  if (type === 'submit_op') Object.assign(payload, { version: rng.pick([0, 1, 5, 1e9]), seq: rng.int(0, 50), op: rng.pick([['x'], [rng.int(1, 9), 'y'], [{ d: rng.int(1, 9) }], [3, { d: 'abc' }], ['😀'], [1, '\ud83d\ude00']]) });
  if (type === 'fetch_ops') Object.assign(payload, { from_version: rng.pick([0, 3, 1e9]) });
  if (type === 'lock_file') Object.assign(payload, { ttl_ms: rng.pick([1_000, 60_000]) });
  if (type === 'unlock_file') Object.assign(payload, { force: rng.chance(0.5) });
  if (type === 'chat_message') payload.message = rng.pick(['hi', '😀 emoji', 'ä'.repeat(8_000), "'; DROP TABLE sessions; --", '" OR ""="']);
  if (type === 'presence_update') Object.assign(payload, { selection: { anchor: rng.int(0, 1e6), head: rng.int(0, 1e6) } });
  return { label: `${type}: odd but valid`, event: type, payload, expect: 'typed' };
}

/** A seeded mix of every kind of case for every message type, plus hostile event names. */
export function socketCases(t: SocketTargets, rng: Seeded, count: number): SocketCase[] {
  const pools = TYPES.map((type) => ({ malformed: malformedOf(type, t), cross: crossSessionOf(type, t) }));
  const events = HOSTILE_EVENTS.map((event): SocketCase => ({ label: `event ${JSON.stringify(event).slice(0, 30)}`, event, payload: { session_id: t.ownSession }, expect: 'refused' }));
  // Every malformed case once, then seeded picks until `count`.
  const all: SocketCase[] = [...pools.flatMap((p) => [...p.malformed, ...p.cross]), ...events];
  while (all.length < count) {
    const roll = rng.next();
    const pool = rng.pick(pools);
    if (roll < 0.6) all.push(rng.pick(pool.malformed));
    else if (roll < 0.75 && pool.cross.length > 0) all.push(rng.pick(pool.cross));
    else {
      const odd = oddValid(rng.pick(TYPES), t, rng);
      if (odd) all.push(odd);
    }
  }
  // Shuffle (Fisher–Yates with the seed) so kinds interleave across the attackers.
  for (let i = all.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, Math.max(count, all.length));
}
