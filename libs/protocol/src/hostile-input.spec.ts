import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { CLIENT_EXAMPLES } from './examples';
import { MAX_JSON_DEPTH, inspectJson, type JsonBounds } from './json-walk';
import { CLIENT_MESSAGES, type ClientMessageType } from './registry';
import { createInviteBodySchema, createSessionBodySchema, devTokenBodySchema, inviteCodeParamSchema, joinSessionBodySchema, redeemInviteBodySchema } from './rest';
import { jsonByteLength, parseClientMessage, validationErrorFrom } from './validate';
import { ChorusError } from './errors';
import { userIdSchema } from './fields';

// Hostile input at the edge (issue 11): text Postgres cannot store, and inputs built to make the validator
// itself throw or recurse. Every answer is a typed error naming the field; nothing throws.

const SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const BAD_TEXT: Array<[string, (s: string) => string]> = [
  ['NUL', (s) => `${s}\u0000`],
  ['a lone high surrogate', (s) => `${s}\ud800`],
  ['a lone low surrogate', (s) => `\udc00${s}`],
  ['reversed surrogates', (s) => `${s}\udc00\ud800`],
];

/** Every string leaf of a value, with its dot path. */
function stringLeaves(value: unknown, path: string[] = []): string[][] {
  if (typeof value === 'string') return [path];
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => stringLeaves(v, [...path, k]));
}

function withLeaf(value: unknown, path: string[], change: (s: string) => string): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path[path.length - 1]] = change(node[path[path.length - 1]] as string);
  return copy;
}

describe('storable text', () => {
  const cases = (Object.keys(CLIENT_MESSAGES) as ClientMessageType[]).flatMap((type) =>
    stringLeaves(CLIENT_EXAMPLES[type]).flatMap((path) => BAD_TEXT.map(([what, change]) => [type, path.join('.'), what, path, change] as const)),
  );

  it.each(cases)('%s: %s with %s is a VALIDATION_ERROR naming it', (type, field, _what, path, change) => {
    const parsed = parseClientMessage(type, withLeaf(CLIENT_EXAMPLES[type], path, change));
    expect(parsed.ok ? 'accepted' : { code: parsed.error.code, field: parsed.error.details.field }).toEqual({ code: 'VALIDATION_ERROR', field });
  });

  const rest: Array<[string, z.ZodType, Record<string, unknown>]> = [
    ['dev-token', devTokenBodySchema, { user_id: 'alice', display_name: 'Alice' }],
    ['create session', createSessionBodySchema, { name: 'Parser', project_path: '/home/a/p', password: 'secret', settings: { theme: 'dark' } }],
    ['create invite', createInviteBodySchema, { role: 'editor', password: 'secret' }],
    ['redeem', redeemInviteBodySchema, { password: 'secret' }],
    ['join', joinSessionBodySchema, { password: 'secret' }],
  ];
  it.each(rest.flatMap(([name, schema, body]) => stringLeaves(body).flatMap((path) => BAD_TEXT.map(([what, change]) => [name, path.join('.'), what, schema, withLeaf(body, path, change)] as const))))(
    'REST %s: %s with %s is refused naming it',
    (_name, field, _what, schema, body) => {
      const result = schema.safeParse(body);
      expect(result.success ? 'accepted' : validationErrorFrom(result.error).details.field).toBe(field);
    },
  );

  it('refuses NUL in path parameters (participant user ids, invite codes)', () => {
    expect(userIdSchema.safeParse('a\u0000b').success).toBe(false);
    expect(userIdSchema.safeParse('\ud800').success).toBe(false);
    expect(inviteCodeParamSchema.safeParse('ABC\u0000DEF').success).toBe(false);
    expect(userIdSchema.safeParse('ok 😀 ü').success).toBe(true);
  });

  it('no string schema of the library bypasses text(): no bare z.string()', () => {
    const offenders = readdirSync(__dirname)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts') && f !== 'text.ts')
      .flatMap((f) => (readFileSync(join(__dirname, f), 'utf8').match(/z\s*\.\s*string\s*\(/g) ?? []).map(() => f));
    expect(offenders).toEqual([]);
  });
});

describe('parseClientMessage is total', () => {
  const deep = (n: number, leaf: unknown = 'x'): unknown => {
    let v = leaf;
    for (let i = 0; i < n; i++) v = { a: v };
    return v;
  };
  const throwing = new Proxy({}, { ownKeys: () => { throw new Error('trap'); }, getPrototypeOf: () => { throw new Error('trap'); } });
  const withGetter = Object.defineProperty({ session_id: SESSION }, 'message', { enumerable: true, get: () => { throw new Error('getter ran'); } });
  class Message {
    session_id = SESSION;
    message = 'hi';
  }
  const sparseOp = (): unknown[] => {
    const op: unknown[] = [1];
    op[2] = 'x';
    return op;
  };
  const sparse: unknown[] = [];
  sparse.length = 2 ** 32 - 1;

  it.each<[string, unknown, unknown, string, string | undefined]>([
    ['type with toString: 1', 'ping', { type: { toString: 1 } }, 'VALIDATION_ERROR', 'type'],
    ['type with valueOf and toString', 'ping', { type: { valueOf: 1, toString: 1 } }, 'VALIDATION_ERROR', 'type'],
    ['an event name that is an object with a throwing toString', { toString: () => { throw new Error('x'); } }, {}, 'VALIDATION_ERROR', 'type'],
    ['a Symbol event name', Symbol('ping'), {}, 'VALIDATION_ERROR', 'type'],
    ['a throwing getter', 'chat_message', withGetter, 'VALIDATION_ERROR', 'message'],
    ['a Proxy whose traps throw', 'ping', throwing, 'VALIDATION_ERROR', '(message)'],
    ['a __proto__ key (as JSON.parse makes it)', 'ping', JSON.parse('{"__proto__": {"admin": true}}'), 'VALIDATION_ERROR', '__proto__'],
    ['a class instance', 'chat_message', new Message(), 'VALIDATION_ERROR', '(message)'],
    ['a Buffer attachment', 'chat_message', { session_id: SESSION, message: Buffer.from('hi') }, 'VALIDATION_ERROR', 'message'],
    ['an ArrayBuffer attachment', 'chat_message', { session_id: SESSION, message: new ArrayBuffer(4) }, 'VALIDATION_ERROR', 'message'],
    ['a Date', 'chat_message', { session_id: SESSION, message: new Date() }, 'VALIDATION_ERROR', 'message'],
    ['a Map', 'chat_message', { session_id: SESSION, message: new Map() }, 'VALIDATION_ERROR', 'message'],
    ['NaN', 'fetch_ops', { session_id: SESSION, doc_id: 'a', from_version: NaN }, 'VALIDATION_ERROR', 'from_version'],
    ['Infinity', 'fetch_ops', { session_id: SESSION, doc_id: 'a', from_version: Infinity }, 'VALIDATION_ERROR', 'from_version'],
    ['a BigInt', 'fetch_ops', { session_id: SESSION, doc_id: 'a', from_version: 10n }, 'VALIDATION_ERROR', 'from_version'],
    ['a function value', 'ping', { id: () => 1 }, 'VALIDATION_ERROR', 'id'],
    ['a NUL in a field name', 'ping', { 'i\u0000d': 1 }, 'VALIDATION_ERROR', 'i\ufffdd'],
    ['100,000 levels of nesting', 'chat_message', { session_id: SESSION, message: deep(100_000) }, 'VALIDATION_ERROR', undefined],
    ['a sparse array of length 2^32-1', 'submit_op', { session_id: SESSION, doc_id: 'a', version: 0, op: sparse, seq: 1 }, 'PAYLOAD_TOO_LARGE', undefined],
    ['a million-element array', 'submit_op', { session_id: SESSION, doc_id: 'a', version: 0, op: new Array(1_000_000).fill(1), seq: 1 }, 'PAYLOAD_TOO_LARGE', undefined],
    ['a sparse op array', 'submit_op', { session_id: SESSION, doc_id: 'a', version: 0, op: sparseOp(), seq: 1 }, 'VALIDATION_ERROR', 'op.1'],
  ])('%s → a typed error, no throw', (_what, event, payload, code, field) => {
    const started = performance.now();
    const parsed = parseClientMessage(event, payload);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toBeInstanceOf(ChorusError);
    expect(parsed.error.code).toBe(code);
    if (field !== undefined) expect(parsed.error.details.field).toBe(field);
  });

  it('names the depth limit when refusing deep nesting', () => {
    const parsed = parseClientMessage('chat_message', { session_id: SESSION, message: deep(5_000) });
    expect(!parsed.ok && parsed.error.message).toMatch(new RegExp(`nested deeper than ${MAX_JSON_DEPTH} levels`));
    expect(parseClientMessage('submit_op', { ...CLIENT_EXAMPLES.submit_op, op: [{ d: 'ok' }] }).ok).toBe(true);
  });

  it('accepts -0 as 0 and never calls toString/valueOf/toJSON of the input', () => {
    const parsed = parseClientMessage('fetch_ops', { session_id: SESSION, doc_id: 'a', from_version: -0 });
    expect(parsed.ok).toBe(true);
    let called = false;
    const sneaky = { toJSON: () => (called = true), toString: () => (called = true), valueOf: () => (called = true) };
    expect(parseClientMessage('ping', { id: sneaky }).ok).toBe(false);
    expect(called).toBe(false);
  });
});

describe('inspectJson', () => {
  const bounds: JsonBounds = { maxBytes: 1_000_000, maxDepth: 64, rootField: '(message)', tooLarge: () => new ChorusError('PAYLOAD_TOO_LARGE', 'too large') };

  it('measures exactly the bytes of the JSON encoding', () => {
    const samples: unknown[] = [
      {},
      [],
      { a: 1, b: [true, false, null], c: 'x' },
      { text: 'quote " backslash \\ newline \n tab \t cr \r bell \u0007 del \u007f' },
      { unicode: 'ü é 中文 😀 \u2028 \u2029 \uffff', n: [-0, 0.1, -1.5e-7, 1e21, 123456789012] },
      { nested: { deeper: { deepest: ['a', { b: 'c' }] } }, '': 0, 'ké y': 'v' },
      [[], {}, [[]], [{}]],
    ];
    for (const sample of samples) {
      const checked = inspectJson(sample, bounds);
      expect({ sample, bytes: checked.ok ? checked.bytes : checked.error.message }).toEqual({ sample, bytes: jsonByteLength(sample) });
    }
  });

  it('refuses one byte over the limit and accepts the limit itself', () => {
    const value = { message: 'x'.repeat(100) };
    const size = jsonByteLength(value);
    expect(inspectJson(value, { ...bounds, maxBytes: size })).toEqual({ ok: true, bytes: size });
    expect(inspectJson(value, { ...bounds, maxBytes: size - 1 })).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('prefixes field paths (REST parameters)', () => {
    expect(inspectJson('a\u0000', { ...bounds, prefix: 'userId' })).toMatchObject({ ok: false, error: { details: { field: 'userId' } } });
    expect(inspectJson({ x: ['\ud800'] }, { ...bounds, prefix: 'query' })).toMatchObject({ ok: false, error: { details: { field: 'query.x.0' } } });
  });
});
