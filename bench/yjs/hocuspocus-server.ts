// One Hocuspocus instance for bench:yjs (a child process): @hocuspocus/server with @hocuspocus/extension-redis on the
// given Redis and prefix, so two of them share documents the way Hocuspocus scales out. No persistence extension:
// Hocuspocus keeps documents in memory (what it measures here is its sync and Redis relay).
import type { AddressInfo } from 'node:net';
import { Server } from '@hocuspocus/server';
import { Redis } from '@hocuspocus/extension-redis';

async function main(): Promise<void> {
  const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const server = new Server({
    port: 0,
    address: '127.0.0.1',
    quiet: true,
    stopOnSignals: true,
    extensions: [new Redis({ host: redis.hostname, port: Number(redis.port || 6379), prefix: process.env.REDIS_PREFIX ?? 'hocuspocus-bench' })],
  });
  await server.listen();
  const { port } = server.httpServer.address() as AddressInfo;
  console.log(`listening on http://127.0.0.1:${port}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
