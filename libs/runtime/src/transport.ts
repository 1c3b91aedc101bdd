import type { CustomTransportStrategy, ClientProxy } from '@nestjs/microservices';
import { InProcessBroker, InProcessClient, InProcessServer, RedisStreamsClient, RedisStreamsServer, type KeyedMode, type OrderingKeys } from '@chorus/transport';
import type { TransportMetrics } from './transport-metrics';

/** The services reachable over the transport. */
export type ServiceName = 'session' | 'presence' | 'conflict';

/**
 * Builds transport endpoints for this process: Redis Streams when REDIS_URL is set, otherwise one in-process
 * broker shared by every app in the process (standalone). Apps never know which one they got.
 */
export interface ServiceTransport {
  server(service: ServiceName): CustomTransportStrategy;
  client(service: ServiceName, orderingKeys?: OrderingKeys): ClientProxy;
}

/**
 * What an ordering key means per service. The conflict service decides op order itself (a head-row lock in
 * Postgres), so its keys only need affinity: one document's submits land on one replica, together, where they
 * share a cached head and commit in batches. Serialising them would cap a hot document at one commit at a time.
 */
const KEYED_MODE: Record<ServiceName, KeyedMode> = { session: 'serial', presence: 'serial', conflict: 'affinity' };

export function createServiceTransport(options: { redisUrl: string | undefined; prefix: string; nodeId: string; requestTimeoutMs?: number; metrics?: TransportMetrics }): ServiceTransport {
  const watched = <S extends InProcessServer | RedisStreamsServer>(service: ServiceName, server: S): S => {
    options.metrics?.watch(service, server);
    return server;
  };
  if (options.redisUrl === undefined) {
    const broker = new InProcessBroker();
    return {
      server: (service) => watched(service, new InProcessServer({ broker, service, nodeId: options.nodeId, keyedMode: KEYED_MODE[service] })),
      client: (service, orderingKeys) => new InProcessClient({ broker, service, nodeId: options.nodeId, requestTimeoutMs: options.requestTimeoutMs, orderingKeys }),
    };
  }
  const base = { redisUrl: options.redisUrl, prefix: options.prefix, nodeId: options.nodeId, requestTimeoutMs: options.requestTimeoutMs };
  return {
    server: (service) => watched(service, new RedisStreamsServer({ ...base, service, keyedMode: KEYED_MODE[service] })),
    client: (service, orderingKeys) => new RedisStreamsClient({ ...base, service, orderingKeys }),
  };
}
