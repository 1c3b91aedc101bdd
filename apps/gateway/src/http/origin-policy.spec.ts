import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { OriginPolicy } from './origin-policy';

const headers = (h: Record<string, string>) => ({ headers: h }) as unknown as IncomingMessage;

describe('OriginPolicy', () => {
  const policy = new OriginPolicy(['https://app.example']);

  it('allows listed origins, the server itself and clients without an Origin; refuses others and "null"', () => {
    expect(policy.refusal(headers({ origin: 'https://app.example', host: 'chorus.example' }))).toBeUndefined();
    expect(policy.refusal(headers({ host: 'chorus.example' }))).toBeUndefined();
    expect(policy.refusal(headers({ origin: 'https://chorus.example', host: 'chorus.example' }))).toBeUndefined();
    expect(policy.refusal(headers({ origin: 'http://evil.example', host: 'chorus.example' }))).toMatch(/^Origin http:\/\/evil\.example may not connect.*CORS_ORIGINS/);
    expect(policy.refusal(headers({ origin: 'null', host: 'chorus.example' }))).toBeDefined();
    expect(policy.refusal(headers({ origin: 'https://app.example.evil', host: 'chorus.example' }))).toBeDefined();
    expect(new OriginPolicy('*').refusal(headers({ origin: 'null' }))).toBeUndefined();
  });

  describe('on a plain WebSocket endpoint (ws on the same HTTP server)', () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      const wss = new WebSocketServer({ noServer: true });
      server = createServer((_req, res) => res.end());
      server.on('upgrade', (req, socket, head) => {
        if (!policy.admitUpgrade(req, socket)) return;
        wss.handleUpgrade(req, socket, head, (ws) => ws.send('welcome'));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    const open = (origin?: string) =>
      new Promise<{ message?: string; status?: number; body?: string }>((resolve) => {
        const ws = new WebSocket(url, origin ? { origin } : {});
        ws.once('message', (data) => (ws.close(), resolve({ message: String(data) })));
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        });
      });

    it('refuses a disallowed origin with 403 and a typed body before any WebSocket exists', async () => {
      const refused = await open('http://evil.example');
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body ?? '')).toEqual({ code: 'PERMISSION_DENIED', message: expect.stringContaining('CORS_ORIGINS') });
    });

    it('admits an allowed origin and a client without an Origin', async () => {
      expect(await open('https://app.example')).toEqual({ message: 'welcome' });
      expect(await open()).toEqual({ message: 'welcome' });
    });
  });
});
