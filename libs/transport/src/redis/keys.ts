/**
 * Every Redis key of the transport, in one place. `<prefix>` namespaces a deployment (or a test).
 *
 *   <prefix>:svc:<service>:req           requests without ordering key: any replica (consumer group <service>)
 *   <prefix>:svc:<service>:req:k<n>      keyed requests of shard n: read only by the replica holding the lease
 *   <prefix>:svc:<service>:lease:<n>     lease of shard n: value = consumer name, PX = claimIdleMs
 *   <prefix>:svc:<service>:members       live replicas (ZSET consumer -> last heartbeat), to share shards fairly
 *   <prefix>:svc:<service>:dead          dead-letter stream
 *   <prefix>:evt:<pattern>               events of one pattern: one consumer group per subscribed service
 *   <prefix>:reply:<client instance>     replies to one client instance (expires when the client is gone)
 */
export class StreamKeys {
  constructor(private readonly prefix: string) {}

  requests(service: string): string {
    return `${this.prefix}:svc:${service}:req`;
  }

  shard(service: string, shard: number): string {
    return `${this.prefix}:svc:${service}:req:k${shard}`;
  }

  lease(service: string, shard: number): string {
    return `${this.prefix}:svc:${service}:lease:${shard}`;
  }

  members(service: string): string {
    return `${this.prefix}:svc:${service}:members`;
  }

  deadLetters(service: string): string {
    return `${this.prefix}:svc:${service}:dead`;
  }

  events(pattern: string): string {
    return `${this.prefix}:evt:${pattern}`;
  }

  replies(clientInstance: string): string {
    return `${this.prefix}:reply:${clientInstance}`;
  }
}
