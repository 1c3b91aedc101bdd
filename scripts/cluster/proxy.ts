import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Backend {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/**
 * The local stand-in for the Service/Ingress in front of the gateways: a TCP round-robin proxy. Working on
 * raw TCP, it forwards HTTP and WebSocket upgrades alike (a connection goes to one gateway for its life, as
 * with kube-proxy). A backend that refuses the connection is skipped for the next one, so a stopped gateway
 * costs no failed request.
 */
export class RoundRobinProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private next = 0;
  /** Connections forwarded to each backend (the round-robin is visible in the status table). */
  readonly connections = new Map<string, number>();

  constructor(private readonly backends: readonly Backend[]) {
    for (const b of backends) this.connections.set(b.name, 0);
    this.server = createServer((client) => this.accept(client));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  /** Stops accepting; open connections end when their gateway closes them, or are cut after `graceMs`. */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const timer = setTimeout(() => this.sockets.forEach((s) => s.destroy()), graceMs);
    await closed;
    clearTimeout(timer);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private accept(client: Socket): void {
    this.track(client);
    client.on('error', () => client.destroy());
    client.pause(); // hold the request bytes until a backend is connected
    this.forward(client, 0);
  }

  private forward(client: Socket, attempt: number): void {
    if (client.destroyed) return;
    if (attempt >= this.backends.length) {
      client.destroy(); // every gateway refused: the client sees a reset, as behind a Service with no endpoints
      return;
    }
    const backend = this.backends[this.next++ % this.backends.length];
    const upstream = connect(backend.port, backend.host);
    const retry = () => {
      upstream.destroy();
      this.forward(client, attempt + 1);
    };
    upstream.once('error', retry);
    upstream.once('connect', () => {
      upstream.off('error', retry);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      this.track(upstream);
      // Like nginx's tcp_nodelay: without it, Nagle holds a small frame (an ack) behind the previous one (a
      // replayed event) until the peer's delayed ACK — a 40 ms stall on every multi-frame reply.
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      this.connections.set(backend.name, (this.connections.get(backend.name) ?? 0) + 1);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      upstream.on('error', end);
      upstream.once('close', end);
      client.once('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }
}
