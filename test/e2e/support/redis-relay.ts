import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pipe {
  readonly client: Socket;
  readonly upstream: Socket;
  /** The first bytes the client sent: ioredis names its connection (CLIENT SETNAME) before anything else. */
  hello: string;
  /** Replies held back while this connection is paused, in order. */
  held: Buffer[] | undefined;
}

/**
 * A TCP relay in front of the real Redis that can hold back, per named connection, what Redis sends to it —
 * the way a slow or congested link delays one subscriber. Nothing of ours is replaced: the node behind it
 * talks to the real Redis with its real clients; only the timing of one connection's replies is in the
 * test's hands (Redis itself can pause only every client at once).
 */
export class RedisRelay {
  private readonly pipes = new Set<Pipe>();

  private constructor(private readonly server: Server) {}

  static async start(target: string): Promise<RedisRelay> {
    const { hostname, port } = new URL(target);
    const server = createServer();
    const relay = new RedisRelay(server);
    server.on('connection', (client) => relay.accept(client, hostname, Number(port) || 6379));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  /** redis:// URL of the relay. */
  get url(): string {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('relay not listening');
    return `redis://127.0.0.1:${address.port}`;
  }

  /** Holds back Redis's bytes to every connection whose name contains `name`, until `resume`. */
  pause(name: string): number {
    let n = 0;
    for (const p of this.pipes) {
      if (!p.hello.includes(name)) continue;
      p.held ??= [];
      n++;
    }
    return n;
  }

  resume(name: string): void {
    for (const p of this.pipes) {
      if (!p.hello.includes(name) || !p.held) continue;
      for (const chunk of p.held) p.client.write(chunk);
      p.held = undefined;
    }
  }

  async close(): Promise<void> {
    for (const p of this.pipes) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    const pipe: Pipe = { client, upstream, hello: '', held: undefined };
    this.pipes.add(pipe);
    client.on('data', (chunk: Buffer) => {
      if (pipe.hello.length < 4096) pipe.hello += chunk.toString('latin1');
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pipe.held) pipe.held.push(chunk);
      else client.write(chunk);
    });
    // A close is passed on with end(), not destroy(): a reply written just before it (QUIT's OK) still reaches
    // the client; only an error tears both sides down at once.
    client.on('close', () => (this.pipes.delete(pipe), upstream.end()));
    upstream.on('close', () => (this.pipes.delete(pipe), client.end()));
    const broken = () => (client.destroy(), upstream.destroy());
    client.on('error', broken);
    upstream.on('error', broken);
  }
}
