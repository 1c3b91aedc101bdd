import type { INestMicroservice, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import Redis from 'ioredis';
import { testRedisUrl, uniqueRedisPrefix } from '@chorus/testing';
import type { BaseTransportClient } from '../base.client';
import type { BaseTransportServer } from '../base.server';
import type { OrderingKeys } from '../envelope';
import { InProcessBroker } from '../in-process/broker';
import { InProcessClient } from '../in-process/in-process.client';
import { InProcessServer } from '../in-process/in-process.server';
import type { StreamsTransportOptions } from '../options';
import { RedisStreamsClient } from '../redis/streams.client';
import { RedisStreamsServer } from '../redis/streams.server';

export interface ReplicaOptions {
  concurrency?: number;
  keyedMode?: 'serial' | 'affinity';
}

export interface ClientOptions {
  requestTimeoutMs?: number;
  orderingKeys?: OrderingKeys;
}

/** One transport implementation, as the contract suite drives it. */
export interface Harness {
  createServer(service: string, options?: ReplicaOptions): BaseTransportServer & { inflightCount(): number; readonly consumer: string };
  createClient(service: string, options?: ClientOptions): BaseTransportClient;
  /** Removes whatever the harness left behind (Redis keys). */
  dispose(): Promise<void>;
}

export type HarnessFactory = () => Harness;

export const inProcessHarness: HarnessFactory = () => {
  const broker = new InProcessBroker();
  return {
    createServer: (service, options = {}) => new InProcessServer({ broker, service, nodeId: 'test', concurrency: options.concurrency, keyedMode: options.keyedMode }),
    createClient: (service, options = {}) =>
      new InProcessClient({ broker, service, nodeId: 'test', requestTimeoutMs: options.requestTimeoutMs, orderingKeys: options.orderingKeys }),
    dispose: async () => undefined,
  };
};

/** Real Redis, a unique key prefix per harness (per test); the keys are deleted afterwards. */
export function redisHarness(overrides: Partial<StreamsTransportOptions> = {}): HarnessFactory {
  return () => {
    const base: StreamsTransportOptions = { redisUrl: testRedisUrl(), prefix: uniqueRedisPrefix('transport'), nodeId: 'test', claimIdleMs: 1_000, ...overrides };
    return {
      createServer: (service, options = {}) => new RedisStreamsServer({ ...base, service, concurrency: options.concurrency, keyedMode: options.keyedMode }),
      createClient: (service, options = {}) =>
        new RedisStreamsClient({ ...base, service, requestTimeoutMs: options.requestTimeoutMs, orderingKeys: options.orderingKeys }),
      dispose: () => deleteKeys(base.redisUrl, base.prefix),
    };
  };
}

export async function deleteKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Boots a Nest microservice on the given strategy: the real programming model, decorators and all. */
export async function startReplica(module: Type, strategy: BaseTransportServer): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice(module, { strategy, logger: false });
  await app.listen();
  return app;
}
