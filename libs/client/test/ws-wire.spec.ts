import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { ChorusClient, ClientClosedError, wsEndpoint, type ChorusClientEvents } from '@chorus/client';
import { waitFor } from '@chorus/testing';

// The /ws wire against a real WebSocket server (the `ws` package) that plays the gateway's part by the
// protocol's rules, for what the whole-system specs cannot provoke: a close code that arrives without its
// disconnect_notice frame (a proxy that passes close frames but drops the last text frame) must still carry the
// reconnect policy, before and after hello.

type Behaviour = (ws: WebSocket, frame: { type: string; id?: number }) => void;

async function server(behaviour: Behaviour): Promise<{ url: string; frames: Array<{ type: string }>; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const frames: Array<{ type: string }> = [];
  wss.on('connection', (ws) => ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string; id?: number };
    frames.push(frame);
    behaviour(ws, frame);
  }));
  const { port } = wss.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    frames,
    close: () => new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => resolve());
    }),
  };
}

const hello = (id: number | undefined) => JSON.stringify({ type: 'hello', id, protocol_version: 1, node_id: 'fake-gateway', limits: {} });

describe('the /ws wire', () => {
  it('derives the endpoint from the gateway URL', () => {
    expect(wsEndpoint('http://localhost:3000')).toBe('ws://localhost:3000/ws');
    expect(wsEndpoint('https://chorus.example.com/')).toBe('wss://chorus.example.com/ws');
    expect(wsEndpoint('wss://chorus.example.com/ws')).toBe('wss://chorus.example.com/ws');
  });

  it('authenticates with a first frame (no token in the URL), correlates replies by id, and reads a bare 4000 close as draining', async () => {
    let closes = 0;
    const fake = await server((ws, frame) => {
      if (frame.type === 'auth') ws.send(hello(frame.id));
      // The first connection is closed with 4000 and no notice frame, at its first ping.
      else if (frame.type === 'ping' && closes++ === 0) ws.close(4000, 'draining');
      else if (frame.type === 'ping') ws.send(JSON.stringify({ type: 'pong', id: frame.id }));
    });
    const client = new ChorusClient({ url: fake.url, token: 'a-token', transport: { kind: 'websocket', WebSocket }, heartbeat: false, random: () => 0, onWarning: () => undefined });
    try {
      const lost: Array<ChorusClientEvents['disconnected']> = [];
      client.on('disconnected', (d) => lost.push(d));
      expect((await client.connect()).node_id).toBe('fake-gateway');
      expect(fake.frames[0]).toEqual({ type: 'auth', id: 1, token: 'a-token', protocol_version: 1 });
      await expect(client.request('ping', {})).rejects.toMatchObject({ name: 'ConnectionLostError' });
      await waitFor('the reconnect', () => lost.length === 1 && client.state === 'connected');
      expect(lost[0]).toMatchObject({ willReconnect: true, notice: { code: 4000, name: 'draining', reconnect: true } });
      expect(await client.request('ping', {})).toMatchObject({ type: 'pong' });
    } finally {
      client.close();
      await fake.close();
    }
  });

  it('a refusal before hello (error, then the close code without a notice) stops for good on 4501', async () => {
    const fake = await server((ws, frame) => {
      if (frame.type !== 'auth') return;
      ws.send(JSON.stringify({ type: 'error', id: frame.id, code: 'VALIDATION_ERROR', message: 'protocol_version 1 is not 2', retryable: false, field: 'protocol_version' }));
      ws.close(4501, 'protocol_mismatch');
    });
    const client = new ChorusClient({ url: fake.url, token: 'a-token', transport: { kind: 'websocket', WebSocket }, heartbeat: false, onWarning: () => undefined });
    try {
      const closed = new Promise<ChorusClientEvents['closed']>((resolve) => client.once('closed', resolve));
      await expect(client.connect()).rejects.toBeInstanceOf(ClientClosedError);
      expect(await closed).toMatchObject({ error: { code: 'VALIDATION_ERROR' }, notice: { code: 4501, name: 'protocol_mismatch', reconnect: false } });
      expect(fake.frames.filter((f) => f.type === 'auth')).toHaveLength(1); // no reconnect loop
    } finally {
      client.close();
      await fake.close();
    }
  });
});
