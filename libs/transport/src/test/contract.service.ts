import { Controller, Inject, Module, Type, UseFilters } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { TransportContext } from '../transport.context';
import { TransportExceptionFilter } from '../transport-exception.filter';

/** A gate a handler waits on until the test opens it: how tests hold work in flight without sleeping. */
export class Gate {
  private release!: () => void;
  private promise = this.reset();

  private reset(): Promise<void> {
    return (this.promise = new Promise<void>((resolve) => (this.release = resolve)));
  }

  wait(): Promise<void> {
    return this.promise;
  }

  open(): void {
    this.release();
  }
}

/** What the test service observed, shared by all replicas of a test (they run in the test process). */
export class Probe {
  readonly handled = new Map<string, number>();
  readonly byConsumer = new Map<string, number>();
  readonly events: Array<{ service: string; consumer: string; requestId: string; data: unknown }> = [];
  readonly orderByKey = new Map<string, number[]>();
  running = 0;
  maxRunning = 0;
  maxRunningPerKey = 0;
  private readonly runningPerKey = new Map<string, number>();
  readonly gate = new Gate();

  count(ctx: TransportContext): void {
    this.handled.set(ctx.getRequestId(), (this.handled.get(ctx.getRequestId()) ?? 0) + 1);
    this.byConsumer.set(ctx.getConsumer(), (this.byConsumer.get(ctx.getConsumer()) ?? 0) + 1);
  }

  async track<T>(key: string | undefined, work: () => Promise<T>): Promise<T> {
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    const k = key ?? '';
    this.runningPerKey.set(k, (this.runningPerKey.get(k) ?? 0) + 1);
    if (key !== undefined) this.maxRunningPerKey = Math.max(this.maxRunningPerKey, this.runningPerKey.get(k)!);
    try {
      return await work();
    } finally {
      this.running--;
      this.runningPerKey.set(k, this.runningPerKey.get(k)! - 1);
    }
  }
}

export const PROBE = Symbol('PROBE');
export const SERVICE = Symbol('SERVICE');

/** A domain error as services throw them: a code, no RpcException, no HTTP. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly retryable?: boolean,
  ) {
    super(message);
  }
}

@Controller()
@UseFilters(new TransportExceptionFilter())
export class ContractController {
  constructor(
    @Inject(PROBE) private readonly probe: Probe,
    @Inject(SERVICE) private readonly service: string,
  ) {}

  @MessagePattern('echo')
  echo(@Payload() data: unknown, @Ctx() ctx: TransportContext) {
    this.probe.count(ctx);
    return { data, consumer: ctx.getConsumer(), requestId: ctx.getRequestId(), deliveryCount: ctx.getDeliveryCount(), service: this.service };
  }

  @MessagePattern({ cmd: 'object.pattern' })
  objectPattern(@Payload() data: { n: number }) {
    return data.n * 2;
  }

  @MessagePattern('nothing')
  nothing(): void {
    return undefined;
  }

  @MessagePattern('fail.rpc')
  failRpc(): never {
    throw new RpcException({ code: 'CONFLICT', message: 'version mismatch', details: { head: 3 }, retryable: true });
  }

  @MessagePattern('fail.domain')
  async failDomain(): Promise<never> {
    throw new DomainError('FORBIDDEN', 'not a member', { doc: 'd1' }, false);
  }

  @MessagePattern('fail.uncoded')
  failUncoded(): never {
    throw new Error('secret SQL detail');
  }

  @MessagePattern('gated')
  async gated(@Payload() data: unknown, @Ctx() ctx: TransportContext) {
    this.probe.count(ctx);
    return this.probe.track(undefined, async () => {
      await this.probe.gate.wait();
      return { data, consumer: ctx.getConsumer() };
    });
  }

  @MessagePattern('append')
  async append(@Payload() data: { key: string; n: number }, @Ctx() ctx: TransportContext) {
    this.probe.count(ctx);
    return this.probe.track(ctx.getKey(), async () => {
      // Jitter that would reorder concurrent handlers: only the transport's per-key order keeps them in line.
      for (let i = 0; i < data.n % 4; i++) await new Promise((resolve) => setImmediate(resolve));
      const list = this.probe.orderByKey.get(data.key) ?? [];
      list.push(data.n);
      this.probe.orderByKey.set(data.key, list);
      return { key: ctx.getKey(), n: data.n };
    });
  }

  @EventPattern('doc.changed')
  changed(@Payload() data: unknown, @Ctx() ctx: TransportContext) {
    this.probe.events.push({ service: this.service, consumer: ctx.getConsumer(), requestId: ctx.getRequestId(), data });
  }
}

/** Controller without event handlers: a service not subscribed to any event. */
@Controller()
export class RequestOnlyController {
  constructor(@Inject(PROBE) private readonly probe: Probe) {}

  @MessagePattern('echo')
  echo(@Payload() data: unknown, @Ctx() ctx: TransportContext) {
    this.probe.count(ctx);
    return { data, consumer: ctx.getConsumer() };
  }
}

export function contractModule(service: string, probe: Probe, controller: Type = ContractController): Type {
  @Module({ controllers: [controller], providers: [{ provide: PROBE, useValue: probe }, { provide: SERVICE, useValue: service }] })
  class ContractModule {}
  return ContractModule;
}
