// A child process of bench/channels.bench.ts: holds some of the channel's subscribers, so the benchmark's
// publishers (in the parent) keep their rate while the subscribers decode deliveries on another core.
// Protocol over IPC: the parent sends `start` (what to connect), the child answers `ready`; `measure` starts the
// window; `count` is answered with the deliveries so far; `report` with the window's figures (then it exits).
import { io, type Socket } from 'socket.io-client';

interface Start {
  readonly kind: 'start';
  readonly bases: readonly string[];
  readonly sessionId: string;
  readonly channel: string;
  readonly first: number;
  readonly count: number;
  readonly connectionsPerUser: number;
  readonly grants: ReadonlyArray<{ token: string; joinToken: string }>;
}
type Command = Start | { kind: 'measure' } | { kind: 'count' } | { kind: 'report' };

/** Wall-clock ms with sub-ms resolution, comparable across processes of this machine. */
const now = () => performance.timeOrigin + performance.now();

const sockets: Socket[] = [];
const latencies: number[] = [];
const fanout: number[] = [];
const reasons: Record<string, number> = {};
let measuring = false;
let received = 0;
let windowDeliveries = 0;
let outOfOrder = 0;
let disconnects = 0;

function connect(base: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = io(base, { transports: ['websocket'], auth: { token, protocol_version: 1 }, reconnection: false, forceNew: true });
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}

async function ack(socket: Socket, type: string, body: Record<string, unknown>): Promise<void> {
  const reply = (await socket.timeout(60_000).emitWithAck(type, body)) as { type: string };
  if (reply.type === 'error') throw new Error(`${type}: ${JSON.stringify(reply)}`);
}

async function start(c: Start): Promise<void> {
  // 25 joins at a time: each costs the session and presence services a round trip or two.
  for (let n = 0; n < c.count; n += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, c.count - n) }, async (_, j) => {
        const i = c.first + n + j;
        const grant = c.grants[Math.floor(i / c.connectionsPerUser)];
        const socket = await connect(c.bases[i % c.bases.length], grant.token);
        sockets.push(socket);
        let last = 0;
        socket.on('disconnect', (reason: string) => {
          disconnects++;
          reasons[reason] = (reasons[reason] ?? 0) + 1;
        });
        socket.on('event', (e: { seq: number; timestamp: number; data: { t: number } }) => {
          if (last !== 0 && e.seq !== last + 1) outOfOrder++;
          last = Math.max(last, e.seq);
          received++;
          if (measuring) {
            windowDeliveries++;
            const t = now();
            latencies.push(Math.round((t - e.data.t) * 10) / 10);
            fanout.push(Math.round(t - e.timestamp));
          }
        });
        await ack(socket, 'join', { session_id: c.sessionId, peer_id: `sub-${i}`, join_token: grant.joinToken });
        await ack(socket, 'subscribe', { session_id: c.sessionId, channel: c.channel });
      }),
    );
    process.send?.({ kind: 'progress', connected: sockets.length });
  }
}

// The parent gone (crashed, killed): nothing left to measure for.
process.on('disconnect', () => process.exit(0));

process.on('message', (command: Command) => {
  switch (command.kind) {
    case 'start':
      start(command).then(
        () => process.send?.({ kind: 'ready' }),
        (err: unknown) => process.send?.({ kind: 'failed', error: String((err as Error)?.stack ?? err) }),
      );
      return;
    case 'count':
      process.send?.({ kind: 'count', received });
      return;
    case 'measure':
      measuring = true;
      windowDeliveries = 0;
      return;
    case 'report':
      measuring = false;
      process.send?.({ kind: 'report', latencies, fanout, received, windowDeliveries, outOfOrder, disconnects, reasons }, () => {
        sockets.forEach((s) => s.close());
        process.exit(0);
      });
      return;
  }
});
