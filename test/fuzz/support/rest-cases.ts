import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { deepObjectJson } from './socket-cases';
import type { Seeded } from './seeded';

// Malformed and hostile REST requests over every operation of the OpenAPI document, sent with node:http so
// nothing (fetch's URL normalisation, its refusal of GET bodies) cleans them up first.

export interface RestOperation {
  readonly method: string;
  /** OpenAPI path template, e.g. /api/v1/collaboration/sessions/{id}. */
  readonly path: string;
}

export interface RestCase {
  readonly label: string;
  readonly method: string;
  /** Already encoded: sent byte for byte. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
  /** `denied`: must be 403 or 404 (or 429); `refused`: a 4xx with a typed body; `typed`: any non-5xx typed answer. */
  readonly expect: 'denied' | 'refused' | 'typed';
}

export interface RestTargets {
  readonly ownSession: string;
  readonly victimSession: string;
  readonly victimUser: string;
  readonly attackerToken: string;
  /** Tokens that must be refused: forged, expired, a join token, … (label → header value). */
  readonly badAuth: Record<string, string>;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

export function rawHttp(base: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, agent: false },
      (res) => {
        // An event stream (SSE) that was opened never ends: its status and headers are the answer to judge.
        if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '' });
          req.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer in 15 s: ${method} ${path.slice(0, 80)}`)));
    req.end(body);
  });
}

/** Operations the attacker must not run validly on its own session (they would end its own participation). */
const DESTRUCTIVE = /^(DELETE |POST .*\/leave$|PATCH .*participants)/;

/** A valid body per operation that takes one (by method and path template). */
function validBody(op: RestOperation): Record<string, unknown> | undefined {
  const key = `${op.method} ${op.path}`;
  if (key.endsWith('/auth/dev-token')) return { user_id: 'fuzz-new', display_name: 'Fuzz', kind: 'human' };
  if (key === 'POST /api/v1/collaboration/sessions') return { name: 'fuzz', project_path: '/tmp/p', is_public: false };
  if (key.endsWith('/invite')) return { role: 'viewer' };
  if (key.endsWith('/participants/{userId}') && op.method === 'PATCH') return { role: 'viewer' };
  if (key.endsWith('/join') || key.endsWith('/redeem')) return {};
  if (key.endsWith('/{id}/agents') && op.method === 'POST') return { name: 'fuzz-agent' };
  if (key.endsWith('/{id}/messages') && op.method === 'POST') return { content: 'fuzz prompt', client_msg_id: 'fuzz-prompt-1' };
  if (key.endsWith('/messages/{messageId}') && op.method === 'PATCH') return { position: 1 };
  if (key.endsWith('/{id}/file-rules') && op.method === 'PUT') return { rules: [{ pattern: 'fuzz/**', role: 'agent', access: 'read' }] };
  if (key === 'PATCH /api/v1/collaboration/sessions/{id}') return { name: 'fuzz renamed' };
  if (key === 'POST /api/v1/collaboration/templates' || key === 'PATCH /api/v1/collaboration/templates/{templateId}') return { name: 'fuzz template' };
  return undefined;
}

const UNSTORABLE = ['a\u0000b', 'x\ud800', '\udc00', 'ok\ud83d'];
const HOSTILE_SEGMENTS = ['%00', '%FF', '%ED%A0%80', '%C0%AF', 'x'.repeat(2_000), '..', '%2e%2e', '%2F', 'null', '%20', '%25', '%u0000', 'a%00b'];

function fill(op: RestOperation, values: { id?: string; userId?: string; inviteId?: string; code?: string }): string {
  return op.path
    .replace('{id}', values.id ?? '')
    .replace('{userId}', values.userId ?? 'someone')
    .replace('{inviteId}', values.inviteId ?? '6f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d')
    .replace('{messageId}', '7a2d9b3f-5c6e-4d4b-8f32-6e9a1b2c3d4e')
    .replace('{agentId}', '8b3e0c4a-6d7f-4e5c-9a43-7f0b2c3d4e5f')
    .replace('{templateId}', '9c4f1d5b-7e80-4f6d-8b54-801c3d4e5f60')
    .replace('{code}', values.code ?? 'ABCDEF');
}

let bomb: Buffer | undefined;
/** 10 MB of spaces, gzipped to ~10 KB: made once. */
function gzipBomb(): Buffer {
  bomb ??= gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
  return bomb;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** Values of another JSON type than `example`'s (null included: no REST body field is nullable). */
function wrongTypes(example: unknown): unknown[] {
  const objects: unknown[] = [{}, [], null];
  if (typeof example === 'string') return [42, true, ...objects];
  if (typeof example === 'boolean') return ['true', 1, ...objects];
  if (typeof example === 'number') return ['1', true, 1.5, ...objects];
  return ['x', 7, true];
}

/** Every case of one operation (the run samples and shuffles them with the seed). */
function casesOf(op: RestOperation, t: RestTargets): RestCase[] {
  const out: RestCase[] = [];
  const key = `${op.method} ${op.path}`;
  const destructive = DESTRUCTIVE.test(key);
  const protectedOp = op.path.startsWith('/api/v1/collaboration');
  const auth = { authorization: `Bearer ${t.attackerToken}` };
  const ownPath = fill(op, { id: t.ownSession, userId: 'fuzz-nobody' });
  const safePath = destructive ? fill(op, { id: t.victimSession, userId: t.victimUser }) : ownPath;
  const body = validBody(op);
  const bodyHeaders = body === undefined ? auth : { ...auth, 'content-type': 'application/json' };
  const add = (label: string, c: Omit<RestCase, 'label' | 'method'>) => out.push({ label: `${key}: ${label}`, method: op.method, ...c });
  const withBody = (label: string, raw: Buffer, expect: RestCase['expect'], headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    add(label, { path: safePath, headers: { ...auth, ...headers }, body: raw, expect: body === undefined ? 'typed' : expect });

  if (protectedOp) {
    add('no token', { path: ownPath, headers: {}, expect: 'refused' });
    for (const [label, value] of Object.entries(t.badAuth)) add(`auth ${label}`, { path: ownPath, headers: { authorization: value }, expect: 'refused' });
  }
  if (op.path.includes('{id}')) {
    add("the victim's session", { path: fill(op, { id: t.victimSession, userId: t.victimUser }), headers: bodyHeaders, body: body && json(body), expect: 'denied' });
    for (const seg of HOSTILE_SEGMENTS) add(`id ${seg.slice(0, 20)}`, { path: fill(op, { id: seg }), headers: bodyHeaders, body: body && json(body), expect: 'refused' });
  }
  if (op.path.includes('{userId}')) for (const seg of HOSTILE_SEGMENTS) add(`userId ${seg.slice(0, 20)}`, { path: fill(op, { id: t.victimSession, userId: seg }), headers: bodyHeaders, body: body && json(body), expect: 'typed' });
  if (op.path.includes('{code}')) for (const seg of HOSTILE_SEGMENTS.slice(0, 6)) add(`code ${seg.slice(0, 20)}`, { path: fill(op, { code: seg }), headers: auth, body: json({}), expect: 'refused' });

  withBody('body not JSON', Buffer.from('{"name": '), 'refused');
  withBody('body a JSON array', json([1, 2]), 'refused');
  withBody('body a JSON string', json('x'), 'refused');
  withBody('body nested 5 000 levels', Buffer.from(deepObjectJson(5_000)), 'refused');
  // Over the 100 KB body cap: 413 on every operation, even those that take no body.
  add('body over 100 KB', { path: safePath, headers: { ...auth, 'content-type': 'application/json' }, body: json({ name: 'x'.repeat(150_000) }), expect: 'refused' });
  add('Content-Encoding bogus', { path: safePath, headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'bogus' }, body: json(body ?? {}), expect: 'refused' });
  add('gzip header on a plain body', { path: safePath, headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: json(body ?? {}), expect: 'refused' });
  withBody('gzip of 10 MB of spaces', gzipBomb(), 'refused', { 'content-type': 'application/json', 'content-encoding': 'gzip' });
  withBody('charset utf-16', json(body ?? {}), 'refused', { 'content-type': 'application/json; charset=utf-16' });
  if (body !== undefined) {
    withBody('unknown field', json({ ...body, extra: 1 }), 'refused');
    withBody('own __proto__ key', Buffer.from(JSON.stringify(body).replace(/^\{/, '{"__proto__":{"polluted":true}' + (Object.keys(body).length > 0 ? ',' : ''))), 'refused');
    for (const field of Object.keys(body)) {
      for (const value of wrongTypes(body[field])) withBody(`${field} = ${JSON.stringify(value)}`, json({ ...body, [field]: value }), 'refused');
      if (typeof body[field] === 'string') for (const value of UNSTORABLE) withBody(`${field} unstorable ${JSON.stringify(value)}`, json({ ...body, [field]: value }), 'refused');
    }
    if (key.endsWith('/join') || key.endsWith('/redeem')) for (const value of UNSTORABLE) withBody(`password unstorable ${JSON.stringify(value)}`, json({ password: `${value}pass` }), 'refused');
  }
  return out;
}

/** Cases for every operation, every one at least once; seeded order. */
export function restCases(operations: readonly RestOperation[], t: RestTargets, rng: Seeded): RestCase[] {
  const all = operations.flatMap((op) => casesOf(op, t));
  for (let i = all.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all;
}

/** The operations of the OpenAPI document, plus health and metrics (served outside it). */
export function operationsOf(openapi: { paths: Record<string, Record<string, unknown>> }): RestOperation[] {
  const ops: RestOperation[] = [];
  for (const [path, methods] of Object.entries(openapi.paths)) for (const method of Object.keys(methods)) ops.push({ method: method.toUpperCase(), path });
  for (const path of ['/health/live', '/health/ready', '/metrics']) if (!ops.some((o) => o.path === path)) ops.push({ method: 'GET', path });
  return ops;
}
