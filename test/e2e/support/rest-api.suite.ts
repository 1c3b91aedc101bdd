import { Client } from 'pg';
import { Hs256Tokens, IdentityTokens } from '@chorus/auth';
import { Api, TEST_JWT_SECRET, startTestStack, type TestStack } from './stack';

// Every REST endpoint of the session API, success and error paths, through the gateway → transport →
// session service → real Postgres. Run twice: on the in-process transport and on Redis Streams + Redis rate
// limits (rest-api-redis.e2e-spec.ts).

export function restApiSuite(redis: boolean): void {
  let stack: TestStack;
  let api: Api;
  let pg: Client;
  const S = '/api/v1/collaboration/sessions';
  const tokens = new Hs256Tokens(TEST_JWT_SECRET);
  const identity = new IdentityTokens(tokens, tokens);
  const PASSWORD = 'correct-horse-battery';
  const secrets: string[] = [PASSWORD];
  /** Where each secret may legitimately appear: the one response that hands it out. */
  const allowedIn = new Map<string, string>();

  beforeAll(async () => {
    stack = await startTestStack(redis ? 'rest_api_redis' : 'rest_api', { redis });
    api = new Api(stack.url);
    pg = new Client({ connectionString: stack.db.url });
    await pg.connect();
  });
  afterAll(async () => {
    await pg?.end();
    await stack?.stop();
  });

  async function user(id: string): Promise<string> {
    const token = await api.devToken(id, id.toUpperCase());
    secrets.push(token);
    allowedIn.set(token, api.transcript[api.transcript.length - 1]);
    return token;
  }

  async function newSession(token: string, body: Record<string, unknown> = { name: 'Parser rewrite' }): Promise<string> {
    const res = await api.request<{ session_id: string }>('POST', S, { token, body });
    expect(res.status).toBe(201);
    return res.body.session_id;
  }

  async function invite(token: string, sessionId: string, body: Record<string, unknown>): Promise<{ code: string; token: string; invite_id: string }> {
    const res = await api.request<{ code: string; token: string; invite_id: string; url: string; expires_at: string }>('POST', `${S}/${sessionId}/invite`, { token, body });
    expect(res.status).toBe(201);
    secrets.push(res.body.token);
    allowedIn.set(res.body.token, res.raw);
    return res.body;
  }

  async function redeem(token: string, code: string, body: Record<string, unknown> = {}) {
    const res = await api.request<{ session_id: string; join_token: string; role: string; code?: string; message?: string; field?: string }>('POST', `/api/v1/collaboration/invites/${code}/redeem`, { token, body });
    if (res.body.join_token) {
      secrets.push(res.body.join_token);
      allowedIn.set(res.body.join_token, res.raw);
    }
    return res;
  }

  describe('auth', () => {
    it('mints dev tokens and refuses bad bodies, missing and forged tokens', async () => {
      const token = await user('alice');
      expect(identity.verifyAccess(token)).toEqual({ user_id: 'alice', display_name: 'ALICE', kind: 'human' });
      const bad = await api.request('POST', '/api/v1/auth/dev-token', { body: { user_id: '', display_name: 'x' } });
      expect(bad).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'user_id' } });
      expect(await api.request('GET', S)).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
      const forged = `${token.slice(0, -4)}AAAA`;
      expect(await api.request('GET', S, { token: forged })).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
      const joinTokenAsAccess = identity.mintJoin({ user_id: 'alice', display_name: 'A', kind: 'human', session_id: '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d', role: 'owner' }, 60);
      expect(await api.request('GET', S, { token: joinTokenAsAccess })).toMatchObject({ status: 401 });
    });

    it('answers malformed JSON and unknown routes with typed errors', async () => {
      const token = await user('mallory');
      expect(await api.request('POST', S, { token, body: '{"name": ' })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR' } });
      expect(await api.request('GET', '/api/v1/nope', { token })).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    });
  });

  describe('sessions', () => {
    it('creates, lists, reads and deletes sessions with owner-only deletion', async () => {
      const alice = await user('alice2');
      const bob = await user('bob2');
      const created = await api.request('POST', S, { token: alice, body: { name: 'Demo', project_path: '/repo', is_public: false, max_participants: 5 } });
      expect(created).toMatchObject({ status: 201, body: { name: 'Demo', owner_id: 'alice2', my_role: 'owner', participant_count: 1, last_seq: 1, has_password: false } });
      const id = (created.body as { session_id: string }).session_id;
      const publicId = await newSession(alice, { name: 'Open house', is_public: true });

      const bobList = await api.request<Array<{ session_id: string; my_role: string | null }>>('GET', S, { token: bob });
      expect(bobList.body.map((s) => s.session_id)).toContain(publicId);
      expect(bobList.body.map((s) => s.session_id)).not.toContain(id);
      expect(await api.request('GET', `${S}/${id}`, { token: bob })).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
      expect(await api.request('GET', `${S}/${publicId}`, { token: bob })).toMatchObject({ status: 200, body: { my_role: null } });
      expect(await api.request('GET', `${S}/7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d`, { token: alice })).toMatchObject({ status: 404 });
      expect(await api.request('GET', `${S}/not-a-uuid`, { token: alice })).toMatchObject({ status: 400, body: { code: 'VALIDATION_ERROR', field: 'id' } });

      expect(await api.request('POST', S, { token: alice, body: { name: 'x', max_participants: 0 } })).toMatchObject({ status: 400, body: { field: 'max_participants' } });
      expect(await api.request('POST', S, { token: alice, body: { name: 'x', colour: 'red' } })).toMatchObject({ status: 400, body: { field: 'colour' } });

      expect(await api.request('DELETE', `${S}/${publicId}`, { token: bob })).toMatchObject({ status: 403, body: { code: 'PERMISSION_DENIED' } });
      expect(await api.request('DELETE', `${S}/${id}`, { token: alice })).toMatchObject({ status: 200, body: { deleted: true } });
      expect(await api.request('GET', `${S}/${id}`, { token: alice })).toMatchObject({ status: 404 });
    });
  });

  describe('invites and joining', () => {
    it('redeems a code, the link token, and refuses expired, used-up and revoked invites', async () => {
      const owner = await user('owner3');
      const carol = await user('carol3');
      const dave = await user('dave3');
      const id = await newSession(owner);

      const editorInvite = await invite(owner, id, { role: 'editor', max_uses: 1 });
      expect(editorInvite.code).toMatch(/^[A-Z2-9]{6}$/);
      const byCode = await redeem(carol, editorInvite.code.toLowerCase());
      expect(byCode).toMatchObject({ status: 200, body: { session_id: id, role: 'editor' } });
      expect(identity.verifyJoin(byCode.body.join_token)).toMatchObject({ user_id: 'carol3', session_id: id, role: 'editor' });
      expect(await redeem(dave, editorInvite.code)).toMatchObject({ status: 404, body: { code: 'NOT_FOUND', message: expect.stringContaining('used up') } });

      const viewerInvite = await invite(owner, id, { role: 'viewer' });
      expect(await redeem(dave, viewerInvite.token)).toMatchObject({ status: 200, body: { role: 'viewer' } });

      const revoked = await invite(owner, id, { role: 'viewer' });
      expect(await api.request('DELETE', `${S}/${id}/invites/${revoked.invite_id}`, { token: owner })).toMatchObject({ status: 200 });
      expect(await redeem(dave, revoked.code)).toMatchObject({ status: 404, body: { message: expect.stringContaining('revoked') } });
      expect(await api.request('DELETE', `${S}/${id}/invites/${revoked.invite_id}`, { token: owner })).toMatchObject({ status: 404 });

      const expired = await invite(owner, id, { role: 'viewer' });
      await pg.query(`UPDATE invites SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.invite_id]);
      expect(await redeem(dave, expired.code)).toMatchObject({ status: 404, body: { message: expect.stringContaining('expired') } });
      expect(await redeem(dave, 'ZZZZZZ')).toMatchObject({ status: 404 });
      expect(await redeem(dave, 'bad code!')).toMatchObject({ status: 400, body: { field: 'code' } });
    });

    it('enforces invite passwords and never downgrades an existing participant', async () => {
      const owner = await user('owner4');
      const erin = await user('erin4');
      const id = await newSession(owner);
      const locked = await invite(owner, id, { role: 'editor', password: PASSWORD });
      expect(await redeem(erin, locked.code)).toMatchObject({ status: 403, body: { code: 'PERMISSION_DENIED', message: 'This invite needs a password.' } });
      expect(await redeem(erin, locked.code, { password: 'wrong-password' })).toMatchObject({ status: 403, body: { message: 'Wrong invite password.' } });
      expect(await redeem(erin, locked.code, { password: PASSWORD })).toMatchObject({ status: 200, body: { role: 'editor' } });
      const viewer = await invite(owner, id, { role: 'viewer' });
      expect(await redeem(erin, viewer.code)).toMatchObject({ status: 200, body: { role: 'editor' } });
    });

    it('lets only managers invite, and only to roles below their own', async () => {
      const owner = await user('owner5');
      const frank = await user('frank5');
      const id = await newSession(owner);
      await redeem(frank, (await invite(owner, id, { role: 'viewer' })).code);
      expect(await api.request('POST', `${S}/${id}/invite`, { token: frank, body: { role: 'viewer' } })).toMatchObject({ status: 403, body: { code: 'PERMISSION_DENIED' } });
      expect(await api.request('POST', `${S}/${id}/invite`, { token: owner, body: { role: 'owner' } })).toMatchObject({ status: 400, body: { field: 'role' } });
      expect(await api.request('POST', `${S}/${id}/invite`, { token: owner, body: { role: 'editor', expires_in_s: 5 } })).toMatchObject({ status: 400, body: { field: 'expires_in_s' } });
    });

    it('joins participants, admits newcomers to public sessions as viewers, and checks session passwords', async () => {
      const owner = await user('owner6');
      const gina = await user('gina6');
      const priv = await newSession(owner);
      expect(await api.request('POST', `${S}/${priv}/join`, { token: owner })).toMatchObject({ status: 200, body: { role: 'owner' } });
      expect(await api.request('POST', `${S}/${priv}/join`, { token: gina })).toMatchObject({ status: 404 });
      const pub = await newSession(owner, { name: 'pub', is_public: true, password: PASSWORD });
      expect(await api.request('POST', `${S}/${pub}/join`, { token: gina, body: { password: 'nope-nope' } })).toMatchObject({ status: 403 });
      const joined = await api.request<{ join_token: string }>('POST', `${S}/${pub}/join`, { token: gina, body: { password: PASSWORD } });
      expect(joined).toMatchObject({ status: 200, body: { role: 'viewer', session_id: pub } });
      secrets.push(joined.body.join_token);
      allowedIn.set(joined.body.join_token, joined.raw);
    });

    it('refuses SESSION_FULL past max_participants', async () => {
      const owner = await user('owner7');
      const id = await newSession(owner, { name: 'tiny', max_participants: 2 });
      const inv = await invite(owner, id, { role: 'viewer' });
      expect(await redeem(await user('h7'), inv.code)).toMatchObject({ status: 200 });
      expect(await redeem(await user('i7'), inv.code)).toMatchObject({ status: 409, body: { code: 'SESSION_FULL' } });
    });
  });

  describe('participants and roles', () => {
    it('lists participants, changes roles, removes participants, and refuses viewers (403)', async () => {
      const owner = await user('owner8');
      const ed = await user('ed8');
      const vi = await user('vi8');
      const id = await newSession(owner);
      await redeem(ed, (await invite(owner, id, { role: 'editor' })).code);
      await redeem(vi, (await invite(owner, id, { role: 'viewer' })).code);

      const list = await api.request<Array<{ user_id: string; role: string }>>('GET', `${S}/${id}/participants`, { token: vi });
      expect(list.body.map((p) => [p.user_id, p.role])).toEqual([['owner8', 'owner'], ['ed8', 'editor'], ['vi8', 'viewer']]);

      expect(await api.request('PATCH', `${S}/${id}/participants/ed8`, { token: vi, body: { role: 'viewer' } })).toMatchObject({ status: 403, body: { code: 'PERMISSION_DENIED' } });
      expect(await api.request('PATCH', `${S}/${id}/participants/ed8`, { token: owner, body: { role: 'admin' } })).toMatchObject({ status: 200, body: { user_id: 'ed8', role: 'admin' } });
      expect(await api.request('PATCH', `${S}/${id}/participants/ed8`, { token: owner, body: { role: 'boss' } })).toMatchObject({ status: 400, body: { field: 'role' } });
      expect(await api.request('PATCH', `${S}/${id}/participants/nobody`, { token: owner, body: { role: 'viewer' } })).toMatchObject({ status: 404 });
      // An admin manages those below it, but not the owner.
      expect(await api.request('DELETE', `${S}/${id}/participants/owner8`, { token: ed })).toMatchObject({ status: 403 });
      expect(await api.request('DELETE', `${S}/${id}/participants/vi8`, { token: ed })).toMatchObject({ status: 200, body: { user_id: 'vi8', role: null } });
      expect(await api.request('GET', `${S}/${id}/participants`, { token: vi })).toMatchObject({ status: 404 });

      expect(await api.request('POST', `${S}/${id}/leave`, { token: owner })).toMatchObject({ status: 409, body: { code: 'OWNER_CANNOT_LEAVE' } });
      expect(await api.request('POST', `${S}/${id}/leave`, { token: ed })).toMatchObject({ status: 200, body: { role: null } });
    });
  });

  describe('history', () => {
    it('pages through the session stream in seq order', async () => {
      const owner = await user('owner9');
      const id = await newSession(owner);
      for (let i = 0; i < 4; i++) await invite(owner, id, { role: 'viewer' });
      const first = await api.request<{ events: Array<{ seq: number; type: string }>; next_after_seq: number | null; last_seq: number }>('GET', `${S}/${id}/history?limit=3`, { token: owner });
      expect(first.status).toBe(200);
      expect(first.body.events.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(first.body.events[0].type).toBe('session_created');
      expect(first.body).toMatchObject({ next_after_seq: 3, last_seq: 5 });
      const second = await api.request<{ events: Array<{ seq: number }>; next_after_seq: number | null }>('GET', `${S}/${id}/history?after_seq=3&limit=3`, { token: owner });
      expect(second.body.events.map((e) => e.seq)).toEqual([4, 5]);
      expect(second.body.next_after_seq).toBeNull();
      expect(await api.request('GET', `${S}/${id}/history?limit=0`, { token: owner })).toMatchObject({ status: 400, body: { field: 'limit' } });
      expect(await api.request('GET', `${S}/${id}/history`, { token: await user('stranger9') })).toMatchObject({ status: 404 });
    });
  });

  describe('guessing invite codes', () => {
    it('is rate-limited: RATE_LIMITED with retry_after_ms and a Retry-After header', async () => {
      const guesser = await user('guesser');
      const statuses: number[] = [];
      let limited: { status: number; body: Record<string, unknown>; headers: Record<string, string> } | undefined;
      for (let i = 0; i < 12 && !limited; i++) {
        const res = await api.request('POST', `/api/v1/collaboration/invites/QQQQQ${'23456789ABCD'[i]}/redeem`, { token: guesser });
        statuses.push(res.status);
        if (res.status === 429) limited = res;
      }
      expect(statuses.slice(0, -1).every((s) => s === 404)).toBe(true);
      expect(limited).toMatchObject({ status: 429, body: { code: 'RATE_LIMITED', retry_after_ms: expect.any(Number) }, headers: { 'retry-after': expect.stringMatching(/^\d+$/) } });
    });
  });

  describe('OpenAPI', () => {
    it('documents every endpoint with its error responses at /api/docs-json', async () => {
      const doc = (await api.request<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>('GET', '/api/docs-json')).body;
      const expected: Array<[string, string, string[]]> = [
        ['/api/v1/auth/dev-token', 'post', ['400']],
        ['/api/v1/collaboration/sessions', 'post', ['400', '401']],
        ['/api/v1/collaboration/sessions', 'get', ['401']],
        ['/api/v1/collaboration/sessions/{id}', 'get', ['404']],
        ['/api/v1/collaboration/sessions/{id}', 'delete', ['403', '404']],
        ['/api/v1/collaboration/sessions/{id}/invite', 'post', ['403']],
        ['/api/v1/collaboration/sessions/{id}/invites/{inviteId}', 'delete', ['404']],
        ['/api/v1/collaboration/invites/{code}/redeem', 'post', ['403', '404', '429']],
        ['/api/v1/collaboration/sessions/{id}/join', 'post', ['403']],
        ['/api/v1/collaboration/sessions/{id}/leave', 'post', ['409']],
        ['/api/v1/collaboration/sessions/{id}/participants', 'get', ['403']],
        ['/api/v1/collaboration/sessions/{id}/participants/{userId}', 'patch', ['403']],
        ['/api/v1/collaboration/sessions/{id}/participants/{userId}', 'delete', ['403']],
        ['/api/v1/collaboration/sessions/{id}/history', 'get', ['400']],
      ];
      for (const [path, method, errors] of expected) {
        const op = doc.paths[path]?.[method];
        expect({ path, method, documented: op !== undefined }).toEqual({ path, method, documented: true });
        for (const status of errors) expect({ path, method, status, documented: op?.responses[status] !== undefined }).toEqual({ path, method, status, documented: true });
      }
    });
  });

  describe('secrets', () => {
    it('never echoes a token or password in any response but the one that issues it, nor in any log line', () => {
      expect(secrets.length).toBeGreaterThan(10);
      const logs = stack.logs.lines.join('\n');
      expect(stack.logs.lines.length).toBeGreaterThan(0);
      for (const secret of secrets) {
        expect({ secret: secret.slice(0, 8), inLogs: logs.includes(secret) }).toEqual({ secret: secret.slice(0, 8), inLogs: false });
        const leaks = api.transcript.filter((body) => body.includes(secret) && body !== allowedIn.get(secret));
        expect({ secret: secret.slice(0, 8), leaks }).toEqual({ secret: secret.slice(0, 8), leaks: [] });
      }
    });
  });
}
