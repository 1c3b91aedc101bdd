import { iceServersFor, turnCredentials } from './turn';

// The TURN REST API scheme coturn checks (use-auth-secret): the expected password was computed independently
// (Python's hmac, base64 of HMAC-SHA1 over "1795316400:alice" with the secret "coturn-shared-secret").

const NOW = 1_795_312_800_000;

describe('TURN credentials', () => {
  it('are <expiry>:<user> with base64(HMAC-SHA1(secret, username)), valid for the ttl', () => {
    expect(turnCredentials('coturn-shared-secret', 'alice', 3600, NOW)).toEqual({ username: '1795316400:alice', credential: 'ov790PrnAKlXmRTb9HUzZG9n4xA=', expiresAt: 1_795_316_400 });
  });

  it('differ per user and per secret', () => {
    const a = turnCredentials('coturn-shared-secret', 'alice', 3600, NOW).credential;
    expect(turnCredentials('coturn-shared-secret', 'bob', 3600, NOW).credential).not.toBe(a);
    expect(turnCredentials('another-secret', 'alice', 3600, NOW).credential).not.toBe(a);
  });
});

describe('iceServersFor', () => {
  const stun = ['stun:stun.example.com:3478'];
  const turn = ['turn:turn.example.com:3478?transport=udp', 'turns:turn.example.com:5349'];

  it('hands out STUN as configured and TURN with the user its own credentials', () => {
    expect(iceServersFor({ stunUrls: stun, turnUrls: turn, turnSecret: 'coturn-shared-secret', turnTtlS: 3600 }, 'alice', NOW)).toEqual({
      ice_servers: [{ urls: stun }, { urls: turn, username: '1795316400:alice', credential: 'ov790PrnAKlXmRTb9HUzZG9n4xA=' }],
      expires_at: 1_795_316_400_000,
    });
  });

  it('leaves TURN out without a secret, and answers an empty list when nothing is configured', () => {
    expect(iceServersFor({ stunUrls: stun, turnUrls: turn, turnSecret: undefined, turnTtlS: 3600 }, 'alice', NOW)).toEqual({ ice_servers: [{ urls: stun }], expires_at: null });
    expect(iceServersFor({ stunUrls: [], turnUrls: [], turnSecret: undefined, turnTtlS: 3600 }, 'alice', NOW)).toEqual({ ice_servers: [], expires_at: null });
  });
});
