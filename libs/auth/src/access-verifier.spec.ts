import { createHmac } from 'node:crypto';
import { ChorusError } from '@chorus/protocol';
import { AccessTokenVerifier, DEFAULT_CLAIMS, type AccessVerifierOptions } from './access-verifier';
import { IdentityTokens } from './identity';
import { Hs256Tokens, TokenError } from './jwt';
import { TestJwksServer, signingKey, type TestSigningKey } from '@chorus/testing';

// Access tokens from a local identity provider (a real HTTP server serving a JWKS the test rotates), and from our
// own HS256 secret: what verifies, and what is refused with which reason.

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const SECRET = 'a-shared-secret-that-is-long-enough-0123456789';

let idp: TestJwksServer;
let rsa: TestSigningKey;
let ec: TestSigningKey;
let ed: TestSigningKey;

beforeAll(async () => {
  idp = await TestJwksServer.start();
  [rsa, ec, ed] = await Promise.all([signingKey('rsa-1', 'RS256'), signingKey('ec-1', 'ES256'), signingKey('ed-1', 'EdDSA')]);
});
afterAll(() => idp.stop());
beforeEach(() => idp.publish(rsa, ec, ed));

function jwks(overrides: Partial<AccessVerifierOptions> = {}, cooldownMs = 0): AccessTokenVerifier {
  return new AccessTokenVerifier({
    source: { kind: 'jwks', url: idp.url, algorithms: ['RS256', 'ES256', 'EdDSA'], cacheMaxAgeMs: 600_000, cooldownMs, timeoutMs: 2_000 },
    issuer: idp.issuer,
    audience: ['chorus-api'],
    clockSkewS: 30,
    claims: DEFAULT_CLAIMS,
    ...overrides,
  });
}

async function refusal(verifier: AccessTokenVerifier, token: string): Promise<string> {
  const err = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof TokenError)) throw new Error(`expected a TokenError, got ${String(err)}`);
  return err.reason;
}

describe('AccessTokenVerifier with a JWKS', () => {
  it.each(['RS256', 'ES256', 'EdDSA'] as const)('accepts %s tokens of the key set, mapping sub/name/kind, with exp plus the leeway as expiry', async (alg) => {
    const key = { RS256: rsa, ES256: ec, EdDSA: ed }[alg];
    const exp = Math.floor(Date.now() / 1000) + 600;
    const token = await idp.mint(key, { sub: 'user-42', name: 'Ada', kind: 'agent', exp });
    expect(await jwks().verify(token)).toEqual({ identity: { user_id: 'user-42', display_name: 'Ada', kind: 'agent' }, expires_at_ms: (exp + 30) * 1000 });
  });

  it('maps configured claims; no display name → the user id; no kind → the default; a bad kind is refused', async () => {
    const verifier = jwks({ claims: { userId: 'oid', displayName: 'preferred_username', kind: 'https://chorus.example/kind', defaultKind: 'human' } });
    expect((await verifier.verify(await idp.mint(rsa, { oid: 'o-1', preferred_username: 'ada@example.com', 'https://chorus.example/kind': 'agent' }))).identity).toEqual({
      user_id: 'o-1',
      display_name: 'ada@example.com',
      kind: 'agent',
    });
    expect((await verifier.verify(await idp.mint(rsa, { oid: 'o-2' }))).identity).toEqual({ user_id: 'o-2', display_name: 'o-2', kind: 'human' });
    expect(await refusal(verifier, await idp.mint(rsa, { oid: 'o-3', 'https://chorus.example/kind': 'robot' }))).toBe('bad_claims');
    // The user id claim missing (sub is not oid): refused, never an identity without an id.
    expect(await refusal(verifier, await idp.mint(rsa, { sub: 'not-the-mapped-claim' }))).toBe('bad_claims');
  });

  it('picks up a rotated key at once (an unknown kid refetches), and refuses the retired one', async () => {
    const verifier = jwks();
    expect((await verifier.verify(await idp.mint(rsa, { sub: 'a' }))).identity.user_id).toBe('a');
    const before = idp.fetches;
    const next = await signingKey('rsa-2', 'RS256');
    idp.publish(next);
    expect((await verifier.verify(await idp.mint(next, { sub: 'b' }))).identity.user_id).toBe('b');
    expect(idp.fetches).toBe(before + 1);
    // rsa-1 is no longer published: the refreshed set does not have it (and asking again finds nothing either).
    expect(await refusal(verifier, await idp.mint(rsa, { sub: 'a' }))).toBe('unknown_key');
  });

  it('caches the key set, and refetches for unknown kids at most once per cooldown (a flood of forged kids)', async () => {
    const verifier = jwks({}, 60_000);
    const start = idp.fetches;
    for (let i = 0; i < 5; i++) await verifier.verify(await idp.mint(ec, { sub: `u${i}` }));
    expect(idp.fetches).toBe(start + 1);
    const rotated = await signingKey('rsa-3', 'RS256');
    idp.publish(rsa, ec, ed, rotated);
    for (let i = 0; i < 5; i++) expect(await refusal(verifier, await idp.mint(rotated, { sub: 'x', jti: String(i) }, { kid: `forged-${i}` }))).toBe('unknown_key');
    expect(await refusal(verifier, await idp.mint(rotated, { sub: 'x' }))).toBe('unknown_key');
    expect(idp.fetches).toBe(start + 1);
  });

  it('refuses a wrong issuer, a wrong audience, and a missing audience', async () => {
    const verifier = jwks();
    expect(await refusal(verifier, await idp.mint(rsa, { sub: 'a', iss: 'https://evil.test/' }))).toBe('wrong_issuer');
    expect(await refusal(verifier, await idp.mint(rsa, { sub: 'a', aud: 'another-app' }))).toBe('wrong_audience');
    expect(await refusal(verifier, await idp.mint(rsa, { sub: 'a', aud: undefined }))).toBe('wrong_audience');
    // One matching audience among several is enough.
    expect((await verifier.verify(await idp.mint(rsa, { sub: 'a', aud: ['other', 'chorus-api'] }))).identity.user_id).toBe('a');
  });

  it('refuses an expired token past the leeway, accepts one inside it, and requires exp', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await refusal(jwks(), await idp.mint(rsa, { sub: 'a', exp: now - 31 }))).toBe('expired');
    expect((await jwks().verify(await idp.mint(rsa, { sub: 'a', exp: now - 5 }))).identity.user_id).toBe('a');
    expect(await refusal(jwks({ clockSkewS: 0 }), await idp.mint(rsa, { sub: 'a', exp: now - 5 }))).toBe('expired');
    expect(await refusal(jwks(), await idp.mint(rsa, { sub: 'a', exp: undefined }))).toBe('bad_claims');
    expect(await refusal(jwks(), await idp.mint(rsa, { sub: 'a', nbf: now + 600 }))).toBe('bad_claims');
  });

  it('refuses alg "none" (unsigned), with or without a signature part', async () => {
    const claims = { sub: 'admin', iss: idp.issuer, aud: 'chorus-api', exp: Math.floor(Date.now() / 1000) + 600 };
    for (const token of [`${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`, `${b64({ alg: 'none', kid: 'rsa-1' })}.${b64(claims)}.c2ln`, `${b64({ alg: 'NONE' })}.${b64(claims)}.`]) {
      expect(await refusal(jwks(), token)).toBe('bad_algorithm');
    }
  });

  it('refuses HS/RS confusion: an HS256 token "signed" with the published public key (PEM or JWK bytes)', async () => {
    const claims = { sub: 'admin', iss: idp.issuer, aud: 'chorus-api', exp: Math.floor(Date.now() / 1000) + 600 };
    for (const secret of [rsa.publicPem, JSON.stringify(rsa.publicJwk), rsa.publicJwk.n as string]) {
      const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'rsa-1' })}.${b64(claims)}`;
      const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      expect(await refusal(jwks(), token)).toBe('bad_algorithm');
    }
    // Only the configured algorithms: an ES256 key set entry does not verify when only RS256 is allowed.
    const rsOnly = jwks({ source: { kind: 'jwks', url: idp.url, algorithms: ['RS256'], cacheMaxAgeMs: 600_000, cooldownMs: 0, timeoutMs: 2_000 } });
    expect(await refusal(rsOnly, await idp.mint(ec, { sub: 'a' }))).toBe('bad_algorithm');
  });

  it('refuses a forged signature and garbage', async () => {
    const other = await signingKey('rsa-1', 'RS256'); // the right kid, the wrong key
    expect(await refusal(jwks(), await idp.mint(other, { sub: 'a' }))).toBe('bad_signature');
    for (const junk of ['', 'not-a-jwt', 'a.b', 'a.b.c', `${b64({ kid: 'rsa-1' })}.${b64({ sub: 'a' })}.c2ln`]) expect({ junk, reason: await refusal(jwks(), junk) }).toEqual({ junk, reason: 'malformed' });
  });

  it('an unreachable key set is ours (UNAVAILABLE), not the token’s', async () => {
    const down = await TestJwksServer.start();
    const url = down.url;
    await down.stop();
    const verifier = jwks({ source: { kind: 'jwks', url, algorithms: ['RS256'], cacheMaxAgeMs: 600_000, cooldownMs: 0, timeoutMs: 1_000 } });
    const err = await verifier.verify(await idp.mint(rsa, { sub: 'a' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChorusError);
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('AccessTokenVerifier with the HS256 secret (JWT_SECRET)', () => {
  const keys = new Hs256Tokens(SECRET);
  const ours = new IdentityTokens(keys, keys);
  const hs = (overrides: Partial<AccessVerifierOptions> = {}) => new AccessTokenVerifier({ source: { kind: 'hs256', secret: SECRET }, clockSkewS: 0, claims: DEFAULT_CLAIMS, ...overrides });

  it('accepts our access tokens (dev tokens, a backend sharing the secret) and refuses our join tokens', async () => {
    const access = ours.mintAccess({ user_id: 'u1', display_name: 'U', kind: 'agent' }, 60);
    expect((await hs().verify(access)).identity).toEqual({ user_id: 'u1', display_name: 'U', kind: 'agent' });
    const join = ours.mintJoin({ user_id: 'u1', display_name: 'U', kind: 'human', session_id: '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d', role: 'owner' }, 60);
    expect(await refusal(hs(), join)).toBe('wrong_kind');
  });

  it('keeps an agent credential\'s session scope (chorus_sid), and refuses a malformed one rather than drop it', async () => {
    const sid = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
    const agent = ours.mintAccess({ user_id: 'agent-1', display_name: 'Claude', kind: 'agent', session_scope: sid }, 60);
    expect((await hs().verify(agent)).identity).toEqual({ user_id: 'agent-1', display_name: 'Claude', kind: 'agent', session_scope: sid });
    expect(await refusal(hs(), keys.sign({ typ: 'access', sub: 'agent-1', name: 'Claude', kind: 'agent', chorus_sid: 'every-session' }, 60))).toBe('bad_claims');
  });

  it('checks issuer and audience when configured (dev tokens then carry them)', async () => {
    const verifier = hs({ issuer: 'chorus-bff', audience: ['chorus-api'] });
    const identity = { user_id: 'u1', display_name: 'U', kind: 'human' } as const;
    expect((await verifier.verify(ours.mintAccess(identity, 60, { iss: 'chorus-bff', aud: ['chorus-api'] }))).identity.user_id).toBe('u1');
    expect(await refusal(verifier, ours.mintAccess(identity, 60))).toBe('wrong_issuer');
    expect(await refusal(verifier, ours.mintAccess(identity, 60, { iss: 'chorus-bff', aud: ['elsewhere'] }))).toBe('wrong_audience');
  });

  it('refuses another secret, an expired token, alg none, and an RS256 token of a real key', async () => {
    const other = new Hs256Tokens('z'.repeat(48));
    expect(await refusal(hs(), new IdentityTokens(other, other).mintAccess({ user_id: 'u', display_name: 'U', kind: 'human' }, 60))).toBe('bad_signature');
    expect(await refusal(hs(), ours.mintAccess({ user_id: 'u', display_name: 'U', kind: 'human' }, -5))).toBe('expired');
    const claims = { typ: 'access', sub: 'admin', name: 'A', kind: 'human', iat: 1, exp: Math.floor(Date.now() / 1000) + 600 };
    expect(await refusal(hs(), `${b64({ alg: 'none' })}.${b64(claims)}.`)).toBe('bad_algorithm');
    expect(await refusal(hs(), await idp.mint(rsa, claims))).toBe('bad_algorithm');
  });

  it('refuses a secret shorter than 32 bytes at construction', () => {
    expect(() => hs({ source: { kind: 'hs256', secret: 'short' } })).toThrow(/32 bytes/);
  });
});
