import { AccessTokenVerifier, DEFAULT_CLAIMS } from '@chorus/auth';

// The load tests' bring-your-own tokens (loadtest/lib/tokens.js, plain CommonJS for Artillery's workers): a
// minted token is accepted by the gateway's own verifier, with issuer and audience when configured, and the
// source is chosen from the environment as the loadtest README says.

// eslint-disable-next-line @typescript-eslint/no-require-imports
const tokens = require('../../loadtest/lib/tokens.js') as {
  mintAccessToken(secret: string, o: { userId: string; displayName: string; kind?: string; ttlS?: number; issuer?: string; audience?: string }): string;
  tokenSource(env: Record<string, string | undefined>): { kind: string };
  accessTokenFor(vars: Record<string, unknown>, rest: { devToken(u: string, n: string): Promise<string> }, userId: string, name: string, env: Record<string, string | undefined>): Promise<{ userId: string; token: string }>;
};

const SECRET = 'load-test-secret-that-is-at-least-32-characters';
const hs = (issuer?: string, audience?: string) => new AccessTokenVerifier({ source: { kind: 'hs256', secret: SECRET }, issuer, audience: audience ? [audience] : undefined, clockSkewS: 0, claims: DEFAULT_CLAIMS });

describe('loadtest tokens', () => {
  it('a minted token is a valid access token for the gateway', async () => {
    const token = tokens.mintAccessToken(SECRET, { userId: 'lt-user-1', displayName: 'Load 1' });
    const verified = await hs().verify(token);
    expect(verified.identity).toMatchObject({ user_id: 'lt-user-1', display_name: 'Load 1', kind: 'human' });
    expect(verified.expires_at_ms).toBeGreaterThan(Date.now() + 3_500_000);
  });

  it('carries issuer and audience when the gateway checks them, and is refused with another secret or when expired', async () => {
    const token = tokens.mintAccessToken(SECRET, { userId: 'lt-user-2', displayName: 'Load 2', issuer: 'https://bff.example.com', audience: 'chorus-api' });
    await expect(hs('https://bff.example.com', 'chorus-api').verify(token)).resolves.toBeDefined();
    await expect(hs('https://other.example.com').verify(token)).rejects.toThrow();
    const other = new AccessTokenVerifier({ source: { kind: 'hs256', secret: `${SECRET}-other` }, clockSkewS: 0, claims: DEFAULT_CLAIMS });
    await expect(other.verify(token)).rejects.toThrow();
    await expect(hs().verify(tokens.mintAccessToken(SECRET, { userId: 'u', displayName: 'U', ttlS: -10 }))).rejects.toThrow();
  });

  it('chooses the source: a tokens file, then a secret, then dev tokens', async () => {
    expect(tokens.tokenSource({ LOAD_TOKENS_FILE: '/x', LOAD_JWT_SECRET: SECRET }).kind).toBe('file');
    expect(tokens.tokenSource({ LOAD_JWT_SECRET: SECRET }).kind).toBe('mint');
    expect(tokens.tokenSource({}).kind).toBe('dev');
    expect(() => tokens.tokenSource({ LOAD_JWT_SECRET: 'short' })).toThrow(/at least 32/);
    const rest = { devToken: async (u: string) => `dev:${u}` };
    await expect(tokens.accessTokenFor({}, rest, 'a', 'A', {})).resolves.toEqual({ userId: 'a', token: 'dev:a' });
    await expect(tokens.accessTokenFor({ user_id: 'from-file', token: 't0k' }, rest, 'a', 'A', { LOAD_TOKENS_FILE: '/x' })).resolves.toEqual({ userId: 'from-file', token: 't0k' });
    await expect(tokens.accessTokenFor({}, rest, 'a', 'A', { LOAD_TOKENS_FILE: '/x' })).rejects.toThrow(/no token row/);
  });
});
