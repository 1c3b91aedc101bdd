import type { ReplyEnvelope, RequestEnvelope } from '../envelope';

/** A replica attached to the broker (an InProcessServer). */
export interface InProcessReplica {
  readonly consumer: string;
  hasCapacity(): boolean;
  /** Hands one message over; `done` must be called once it is handled (the in-process "XACK"). */
  deliver(env: RequestEnvelope, done: () => void): void;
}

interface ServiceQueue {
  /** Messages not yet handed to a replica (the part of a Redis stream after the group's last-delivered id). */
  queue: RequestEnvelope[];
  replicas: InProcessReplica[];
  next: number;
  /** Ordering keys with a message in a replica's hands: the next one with that key waits. */
  busyKeys: Set<string>;
  /** 'affinity': keys do not serialise (one process has one replica set anyway). */
  keyedMode: 'serial' | 'affinity';
  /** 'affinity': the replica each key is bound to. */
  affinity: Map<string, InProcessReplica>;
}

export interface InProcessBrokerOptions {
  /** Oldest messages of a service queue are dropped beyond this (Redis: MAXLEN). Default 100000. */
  maxQueue?: number;
}

/**
 * The in-process twin of Redis for the transport: one per process (the standalone `npm start`, fast tests).
 * Same semantics as the Redis Streams transport where they can be the same:
 * - a service's queue exists from its first request or subscription and outlives its replicas (a consumer
 *   group), so requests sent while no replica runs wait for one (until their deadline);
 * - each request goes to one replica (round robin among those with free capacity: bounded concurrency);
 * - each event goes to every service that subscribed to its pattern, one replica within each;
 * - keyed requests of one key are handed out one at a time, in order (across all replicas);
 * - payloads are JSON round-tripped, so what would not survive Redis does not survive here.
 * What cannot be the same: nothing survives the process, so there is no redelivery, claiming or dead letter
 * (a crash loses the broker together with the replicas).
 */
export class InProcessBroker {
  private readonly services = new Map<string, ServiceQueue>();
  private readonly subscribers = new Map<string, Set<string>>();
  private readonly clients = new Map<string, (reply: ReplyEnvelope) => void>();
  private readonly maxQueue: number;

  constructor(options: InProcessBrokerOptions = {}) {
    this.maxQueue = options.maxQueue ?? 100_000;
  }

  attach(service: string, replica: InProcessReplica, eventPatterns: string[], keyedMode: 'serial' | 'affinity' = 'serial'): void {
    this.serviceQueue(service).replicas.push(replica);
    this.serviceQueue(service).keyedMode = keyedMode;
    for (const pattern of eventPatterns) {
      const set = this.subscribers.get(pattern) ?? new Set<string>();
      set.add(service);
      this.subscribers.set(pattern, set);
    }
    this.pump(service);
  }

  /** The replica gets no further messages; those it holds still complete through their `done`. */
  detach(service: string, replica: InProcessReplica): void {
    const q = this.serviceQueue(service);
    q.replicas = q.replicas.filter((r) => r !== replica);
  }

  registerClient(address: string, onReply: (reply: ReplyEnvelope) => void): void {
    this.clients.set(address, onReply);
  }

  unregisterClient(address: string): void {
    this.clients.delete(address);
  }

  submit(service: string, env: RequestEnvelope): void {
    this.enqueue(service, clone(env));
  }

  /** An event reaches every subscribed service (none subscribed: dropped, like an unread stream). */
  publish(env: RequestEnvelope): void {
    for (const service of this.subscribers.get(env.p) ?? []) this.enqueue(service, clone(env));
  }

  reply(address: string, reply: ReplyEnvelope): void {
    const copy = clone(reply);
    // Asynchronous like a network hop; a reply to a client that is gone is dropped (Redis: TTL).
    setImmediate(() => this.clients.get(address)?.(copy));
  }

  /** Messages waiting for a replica (for tests and gauges). */
  queued(service: string): number {
    return this.services.get(service)?.queue.length ?? 0;
  }

  private enqueue(service: string, env: RequestEnvelope): void {
    const q = this.serviceQueue(service);
    q.queue.push(env);
    if (q.queue.length > this.maxQueue) q.queue.shift();
    this.pump(service);
  }

  private pump(service: string): void {
    const q = this.serviceQueue(service);
    for (let index = 0; index < q.queue.length; ) {
      const env = q.queue[index];
      const keyed = env.k !== undefined && env.r !== undefined;
      // 'serial': the first message whose key is not busy (per-key order without blocking other keys).
      if (keyed && q.keyedMode === 'serial' && q.busyKeys.has(env.k as string)) {
        index++;
        continue;
      }
      const replica = keyed && q.keyedMode === 'affinity' ? this.stickyReplica(q, env.k as string) : this.pickReplica(q);
      if (!replica) {
        if (keyed && q.keyedMode === 'affinity') {
          index++; // its replica is busy: later messages of other keys may still go
          continue;
        }
        return;
      }
      q.queue.splice(index, 1);
      const key = keyed && q.keyedMode === 'serial' ? env.k : undefined;
      if (key !== undefined) q.busyKeys.add(key);
      replica.deliver(env, () => {
        if (key !== undefined) q.busyKeys.delete(key);
        this.pump(service);
      });
    }
  }

  /** 'affinity': a key stays with the replica that took it first while that replica is attached. */
  private stickyReplica(q: ServiceQueue, key: string): InProcessReplica | undefined {
    let replica = q.affinity.get(key);
    if (!replica || !q.replicas.includes(replica)) {
      replica = this.pickReplica(q);
      if (!replica) return undefined;
      // Bounded: forgetting a binding only costs the next message of that key a fresh pick.
      if (q.affinity.size >= 10_000) q.affinity.clear();
      q.affinity.set(key, replica);
    }
    return replica.hasCapacity() ? replica : undefined;
  }

  private pickReplica(q: ServiceQueue): InProcessReplica | undefined {
    for (let i = 0; i < q.replicas.length; i++) {
      const replica = q.replicas[(q.next + i) % q.replicas.length];
      if (replica.hasCapacity()) {
        q.next = (q.next + i + 1) % q.replicas.length;
        return replica;
      }
    }
    return undefined;
  }

  private serviceQueue(service: string): ServiceQueue {
    let q = this.services.get(service);
    if (!q) {
      q = { queue: [], replicas: [], next: 0, busyKeys: new Set(), keyedMode: 'serial', affinity: new Map() };
      this.services.set(service, q);
    }
    return q;
  }
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
