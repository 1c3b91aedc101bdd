import { Hs256Tokens } from './jwt';
import { IdentityTokens } from './identity';

const keys = new Hs256Tokens('identity-spec-secret-long-enough-for-hs256-0123');
const tokens = new IdentityTokens(keys, keys);
const SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';

describe('agent credentials: the session scope travels in the token', () => {
  it('an access token with a scope verifies to an identity with that scope, and one without has none', () => {
    const scoped = tokens.verifyAccess(tokens.mintAccess({ user_id: 'agent-1', display_name: 'Claude', kind: 'agent', session_scope: SESSION }, 60));
    expect(scoped).toEqual({ user_id: 'agent-1', display_name: 'Claude', kind: 'agent', session_scope: SESSION });
    const plain = tokens.verifyAccess(tokens.mintAccess({ user_id: 'alice', display_name: 'Alice', kind: 'human' }, 60));
    expect(plain).toEqual({ user_id: 'alice', display_name: 'Alice', kind: 'human' });
  });

  it('a join token minted for a scoped identity keeps the scope', () => {
    const grant = tokens.verifyJoin(tokens.mintJoin({ user_id: 'agent-1', display_name: 'Claude', kind: 'agent', session_scope: SESSION, session_id: SESSION, role: 'agent' }, 60));
    expect(grant.session_scope).toBe(SESSION);
  });

  it('refuses a scope that is not a session id', () => {
    const forged = keys.sign({ typ: 'access', sub: 'agent-1', name: 'Claude', kind: 'agent', chorus_sid: 'everything' }, 60);
    expect(() => tokens.verifyAccess(forged)).toThrow('wrong_kind');
  });
});
