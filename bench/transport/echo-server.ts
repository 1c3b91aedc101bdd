// Benchmark server process: one replica of an echo service, on our Redis Streams transport or on Nest's
// built-in Redis transport (pub/sub). Env: MODE=streams|builtin, REDIS_URL, PREFIX, CONCURRENCY.
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, MicroserviceOptions, Payload, Transport } from '@nestjs/microservices';
import { RedisStreamsServer } from '@chorus/transport';

@Controller()
class EchoController {
  @MessagePattern('bench.echo')
  echo(@Payload() data: unknown): unknown {
    return data;
  }
}

@Module({ controllers: [EchoController] })
class EchoModule {}

async function main(): Promise<void> {
  const env = process.env;
  const url = new URL(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const options: MicroserviceOptions =
    env.MODE === 'builtin'
      ? { transport: Transport.REDIS, options: { host: url.hostname, port: Number(url.port) } }
      : {
          strategy: new RedisStreamsServer({
            redisUrl: url.toString(),
            prefix: env.PREFIX ?? 'bench',
            nodeId: `bench-${process.pid}`,
            service: 'bench',
            ...(env.CONCURRENCY && { concurrency: Number(env.CONCURRENCY) }),
          }),
        };
  const app = await NestFactory.createMicroservice(EchoModule, { ...options, logger: ['error'] });
  await app.listen();
  process.stdout.write('READY\n');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
