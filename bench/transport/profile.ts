// Profiling aid (not part of the benchmark): N requests through one setup; prints CPU seconds per process
// and Redis command stats. MODE=streams|builtin, N (default 100000), IN_FLIGHT (default 256).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import { ClientProxy, ClientProxyFactory, Transport } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { RedisStreamsClient } from '@chorus/transport';

async function main(): Promise<void> {
  const mode = process.env.MODE ?? 'streams';
  const redisUrl = process.env.REDIS_URL!;
  const n = Number(process.env.N ?? 100_000);
  const inFlight = Number(process.env.IN_FLIGHT ?? 256);
  const server = spawn(process.execPath, [...(process.env.SERVER_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), '-r', 'reflect-metadata', '-r', '@swc-node/register', path.join(__dirname, 'echo-server.ts')], {
    env: { ...process.env, MODE: mode, PREFIX: 'prof' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => server.stdout!.on('data', (c: Buffer) => c.toString().includes('READY') && resolve()));
  const url = new URL(redisUrl);
  const client: ClientProxy = mode === 'streams'
    ? new RedisStreamsClient({ redisUrl, prefix: 'prof', nodeId: 'prof', service: 'bench' })
    : ClientProxyFactory.create({ transport: Transport.REDIS, options: { host: url.hostname, port: Number(url.port) } });
  await client.connect();
  const redis = new Redis(redisUrl);
  await redis.config('RESETSTAT');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  const worker = async () => {
    while (sent < n) {
      sent++;
      await firstValueFrom(client.send('bench.echo', { doc: 'doc-42', op: { p: 17, i: 'hello' }, v: 1234 }));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stats = (await redis.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat'));
  const redisCpu = (await redis.info('cpu')).split('\n').filter((l) => l.startsWith('used_cpu'));
  console.log(`${mode}: ${n} in ${secs.toFixed(2)} s = ${Math.round(n / secs)} rps; client cpu ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`);
  console.log(stats.join('\n'));
  console.log(redisCpu.join('\n'));
  const ps = spawn('ps', ['-o', 'time=', '-p', String(server.pid)], { stdio: ['ignore', 'pipe', 'inherit'] });
  ps.stdout!.on('data', (c: Buffer) => console.log(`server cpu ${c.toString().trim()}`));
  await once(ps, 'exit');
  await client.close();
  redis.disconnect();
  server.kill('SIGTERM');
  await once(server, 'exit');
}
void main();
