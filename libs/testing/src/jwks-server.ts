import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload } from 'jose';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

/** One signing key of a test identity provider: its `kid`, algorithm and key pair. */
export interface TestSigningKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256' | 'EdDSA';
  readonly privateKey: KeyPair['privateKey'];
  readonly publicKey: KeyPair['publicKey'];
  readonly publicJwk: JWK;
  /** The public key as PEM: what an attacker who read the JWKS has (HS/RS confusion uses it as an HMAC secret). */
  readonly publicPem: string;
}

export async function signingKey(kid: string, alg: TestSigningKey['alg']): Promise<TestSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

/**
 * A tiny identity provider for tests: a real node:http server on 127.0.0.1 serving a JWKS whose keys the test
 * rotates, counting the fetches (the verifier's cache and refetch rate limit are visible from outside), and
 * minting tokens with any of its keys.
 */
export class TestJwksServer {
  /** JWKS documents served so far. */
  fetches = 0;
  private keys: TestSigningKey[] = [];

  private constructor(
    private readonly server: Server,
    readonly issuer: string,
  ) {}

  static async start(issuer = 'https://idp.test/'): Promise<TestJwksServer> {
    const server = createServer();
    const self = new TestJwksServer(server, issuer);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      self.fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: self.keys.map((k) => k.publicJwk) }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  /** The key set served from now on (a rotation: publish the new key, later drop the old one). */
  publish(...keys: TestSigningKey[]): void {
    this.keys = keys;
  }

  /** A token signed by `key`: `claims` over sensible defaults (this issuer, audience chorus-api, an hour's life). */
  async mint(key: TestSigningKey, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const payload: JWTPayload = { iss: this.issuer, aud: 'chorus-api', iat: now, exp: now + 3_600, ...claims };
    return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
