import { buildAsyncApiDocument, historyPageSchema, inviteCreatedSchema, joinGrantViewSchema, participantViewSchema, sessionViewSchema } from '@chorus/protocol';
import { z } from 'zod';
import { Api, startTestStack, type TestStack } from './support/stack';

// The API descriptions a running gateway serves: OpenAPI 3.1 with readable operation ids and response schemas
// (the zod views of libs/protocol/src/rest.ts, which real answers must satisfy), and the AsyncAPI 3 document
// beside it.

type Operation = { operationId?: string; responses: Record<string, { content?: Record<string, { schema?: unknown }> }> };
type OpenApi = { openapi: string; paths: Record<string, Record<string, Operation>> };

let stack: TestStack;
let api: Api;
beforeAll(async () => {
  stack = await startTestStack('api_docs', { env: { PUBLIC_URL: 'https://chorus.test' } });
  api = new Api(stack.url);
});
afterAll(async () => stack?.stop());

describe('OpenAPI (GET /api/docs-json)', () => {
  let doc: OpenApi;
  beforeAll(async () => {
    doc = (await api.request<OpenApi>('GET', '/api/docs-json')).body;
  });
  const operations = () => Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));

  it('says OpenAPI 3.1.0 (its schemas are JSON Schema 2020-12)', () => {
    expect(doc.openapi).toBe('3.1.0');
  });

  it('has unique, readable operation ids (<noun>_<method>, snake_case)', () => {
    const ids = operations().map((o) => o.op.operationId ?? '');
    expect(ids.filter((id) => !/^[a-z]+(_[a-z]+)+$/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['sessions_create', 'sessions_update_role', 'invites_redeem', 'voice_ice_servers']));
  });

  it('describes the success response of the session routes with the view schemas', () => {
    const success = (path: string, method: string) => {
      const op = doc.paths[path]?.[method];
      const status = Object.keys(op?.responses ?? {}).find((s) => s.startsWith('2')) ?? '';
      return op?.responses[status]?.content?.['application/json']?.schema as { type?: string; required?: string[]; items?: { required?: string[] } } | undefined;
    };
    const S = '/api/v1/collaboration/sessions';
    expect(success(S, 'post')?.required).toEqual(expect.arrayContaining(['session_id', 'my_role', 'last_seq']));
    expect(success(S, 'get')?.type).toBe('array');
    expect(success(S, 'get')?.items?.required).toContain('has_password');
    expect(success(`${S}/{id}/invite`, 'post')?.required).toContain('token');
    expect(success(`${S}/{id}/history`, 'get')?.required).toContain('next_after_seq');
  });

  it('real answers satisfy the view schemas they are described with', async () => {
    const owner = await api.devToken('owner-apidocs', 'Owner');
    const guest = await api.devToken('guest-apidocs', 'Guest');
    const S = '/api/v1/collaboration/sessions';
    const created = await api.request<unknown>('POST', S, { token: owner, body: { name: 'described', is_public: true } });
    expect(created.status).toBe(201);
    const session = sessionViewSchema.strict().parse(created.body);
    z.array(sessionViewSchema.strict()).parse((await api.request('GET', S, { token: owner })).body);
    const invite = inviteCreatedSchema.strict().parse((await api.request('POST', `${S}/${session.session_id}/invite`, { token: owner, body: { role: 'editor' } })).body);
    const redeemed = await api.request<unknown>('POST', `/api/v1/collaboration/invites/${invite.code}/redeem`, { token: guest, body: {} });
    expect(joinGrantViewSchema.safeParse(redeemed.body).success).toBe(true);
    joinGrantViewSchema.strict().parse((await api.request('POST', `${S}/${session.session_id}/join`, { token: owner, body: {} })).body);
    z.array(participantViewSchema.strict()).parse((await api.request('GET', `${S}/${session.session_id}/participants`, { token: owner })).body);
    const history = historyPageSchema.strict().parse((await api.request('GET', `${S}/${session.session_id}/history`, { token: owner })).body);
    expect(history.events.length).toBeGreaterThan(0);
  });
});

describe('AsyncAPI (GET /api/asyncapi.json)', () => {
  it('serves the document generated from the protocol schemas, for the public host', async () => {
    const res = await api.request<unknown>('GET', '/api/asyncapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(buildAsyncApiDocument('chorus.test', 'wss'))));
  });
});
