// A child process: one replica of the "work" test service on the Redis Streams transport, for the
// multi-process tests (spawned with `node -r reflect-metadata -r @swc-node/register`). Configured by
// environment: REDIS_URL, PREFIX, SERVICE, NODE_ID, CLAIM_IDLE_MS ('default': the transport's default),
// CONCURRENCY, HANG=1 (the handler applies its effect, stores its result, then never replies: a replica that
// will be killed holding messages), SLOW_MS (the handler waits this long before replying: a replica paused
// with SIGSTOP while holding messages).
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import Redis from 'ioredis';
import { RedisIdempotencyStore } from '../idempotency';
import { RedisStreamsServer } from '../redis/streams.server';
import { TransportContext } from '../transport.context';

const env = process.env;
const prefix = env.PREFIX!;
const service = env.SERVICE ?? 'work';
const hang = env.HANG === '1';
const slowMs = Number(env.SLOW_MS ?? 0);
const redis = new Redis(env.REDIS_URL!);
redis.on('error', () => undefined); // reconnects by itself (the Redis restart test)
const idempotency = new RedisIdempotencyStore(redis, prefix, 60_000);

export interface WorkReply {
  n: number;
  doubled: number;
  requestId: string;
  /** Consumer whose run produced the (remembered) result. */
  producedBy: string;
  /** Consumer that sent this reply. */
  servedBy: string;
  deliveryCount: number;
  replayed: boolean;
}

@Controller()
class WorkController {
  @MessagePattern('work')
  async work(@Payload() data: { n: number }, @Ctx() ctx: TransportContext): Promise<WorkReply> {
    const requestId = ctx.getRequestId();
    await redis.hincrby(`${prefix}:test:${service}:runs`, requestId, 1);
    // The idempotency hook: a redelivered request returns the first run's result, its effect not repeated.
    const { value, replayed } = await idempotency.remember(requestId, async () => {
      await redis.hincrby(`${prefix}:test:${service}:effects`, requestId, 1);
      return { n: data.n, doubled: data.n * 2, producedBy: ctx.getConsumer() };
    });
    if (hang) await new Promise<never>(() => undefined);
    if (slowMs > 0) await new Promise((resolve) => setTimeout(resolve, slowMs));
    return { ...value, requestId, servedBy: ctx.getConsumer(), deliveryCount: ctx.getDeliveryCount(), replayed };
  }
}

@Module({ controllers: [WorkController] })
class WorkModule {}

async function main(): Promise<void> {
  const server = new RedisStreamsServer({
    redisUrl: env.REDIS_URL!,
    prefix,
    nodeId: env.NODE_ID ?? 'child',
    service,
    claimIdleMs: env.CLAIM_IDLE_MS === 'default' ? undefined : Number(env.CLAIM_IDLE_MS ?? 1_000),
    concurrency: Number(env.CONCURRENCY ?? 32),
  });
  const app = await NestFactory.createMicroservice(WorkModule, { strategy: server, logger: ['error'] });
  await app.listen();
  process.stdout.write(`READY ${server.consumer}\n`);
  process.on('SIGTERM', () => {
    void app.close().then(() => process.exit(0));
  });
}

main().catch((error: Error) => {
  process.stderr.write(`replica failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
