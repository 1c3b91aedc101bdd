import type { INestMicroservice, Type } from '@nestjs/common';
import { InvalidMessageException } from '@nestjs/microservices/errors/invalid-message.exception';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { TypedClient } from '@chorus/contracts';
import { waitFor, withDeadline } from '@chorus/testing';
import type { BaseTransportClient } from '../base.client';
import { ordered } from '../envelope';
import { TransportError } from '../transport.error';
import { Probe, RequestOnlyController, contractModule } from './contract.service';
import { type ClientOptions, type Harness, type HarnessFactory, type ReplicaOptions, startReplica } from './harness';

interface Echo {
  data: unknown;
  consumer: string;
  requestId: string;
  deliveryCount: number;
  service: string;
}

async function failureOf(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (error) {
    return error as TransportError;
  }
  throw new Error('expected the call to fail');
}

/**
 * The behaviour both transports promise, run against each (redis-streams.contract.spec.ts and
 * in-process.contract.spec.ts). Every replica is a real Nest microservice with decorated handlers.
 */
export function transportContract(name: string, factory: HarnessFactory): void {
  describe(`${name}: transport contract`, () => {
    let harness: Harness;
    let apps: INestMicroservice[] = [];
    let clients: BaseTransportClient[] = [];
    let probes: Probe[] = [];

    beforeEach(() => {
      harness = factory();
    });

    afterEach(async () => {
      for (const probe of probes) probe.gate.open();
      for (const client of clients) expect(client.pendingCount()).toBe(0);
      await Promise.all(clients.map((c) => c.close()));
      await Promise.all(apps.map((a) => a.close()));
      await harness.dispose();
      apps = [];
      clients = [];
      probes = [];
    });

    function probe(): Probe {
      const p = new Probe();
      probes.push(p);
      return p;
    }

    async function replica(service: string, p: Probe, options?: ReplicaOptions, controller?: Type) {
      const server = harness.createServer(service, options);
      const app = await startReplica(contractModule(service, p, controller), server);
      apps.push(app);
      return { app, server };
    }

    async function client(service: string, options?: ClientOptions): Promise<BaseTransportClient> {
      const c = harness.createClient(service, options);
      clients.push(c);
      await c.connect();
      return c;
    }

    it('answers a request, with a context that identifies the message and the consumer', async () => {
      const { server } = await replica('svc', probe());
      const c = await client('svc');
      const echo = await firstValueFrom(c.send<Echo>('echo', { hello: 'world' }));
      expect(echo).toMatchObject({ data: { hello: 'world' }, deliveryCount: 1, consumer: server.consumer, service: 'svc' });
      expect(echo.requestId).toEqual(expect.any(String));
      expect(server.consumer).toMatch(/^test:[0-9a-f]{8}$/);
      expect(await firstValueFrom(c.send({ cmd: 'object.pattern' }, { n: 21 }))).toBe(42);
      // A handler that returns nothing completes the observable without a value.
      expect(await lastValueFrom(c.send('nothing', {}), { defaultValue: 'no value' })).toBe('no value');
      expect(server.isHealthy()).toBe(true);
      expect(c.isHealthy()).toBe(true);
    });

    it('gives each request to exactly one replica, and uses all replicas', async () => {
      const p = probe();
      await replica('svc', p, { concurrency: 40 });
      await replica('svc', p, { concurrency: 40 });
      const c = await client('svc');
      // Gated handlers hold their slots, so neither replica can take everything before the other reads.
      const calls = Array.from({ length: 120 }, (_, n) => firstValueFrom(c.send<{ data: { n: number } }>('gated', { n })));
      await waitFor('both replicas to fill up', () => p.running === 80);
      p.gate.open();
      const replies = await Promise.all(calls);
      expect(replies.map((r) => r.data.n)).toEqual(Array.from({ length: 120 }, (_, n) => n));
      expect(p.handled.size).toBe(120);
      expect([...p.handled.values()].every((count) => count === 1)).toBe(true);
      expect(p.byConsumer.size).toBe(2);
    });

    it('carries a handler error to the caller with exactly its code, message, details and retryable', async () => {
      await replica('svc', probe());
      const c = await client('svc');
      const rpc = await failureOf(firstValueFrom(c.send('fail.rpc', {})));
      expect(rpc).toBeInstanceOf(TransportError);
      expect(rpc.toJSON()).toEqual({ code: 'CONFLICT', message: 'version mismatch', details: { head: 3 }, retryable: true });
      const domain = await failureOf(firstValueFrom(c.send('fail.domain', {})));
      expect(domain.toJSON()).toEqual({ code: 'FORBIDDEN', message: 'not a member', details: { doc: 'd1' }, retryable: false });
      // An uncoded error is INTERNAL, and its message (which could be a SQL error) stays on the server.
      const uncoded = await failureOf(firstValueFrom(c.send('fail.uncoded', {})));
      expect(uncoded.toJSON()).toEqual({ code: 'INTERNAL', message: 'Internal error' });
      const unknown = await failureOf(firstValueFrom(c.send('no.such.pattern', {})));
      expect(unknown.code).toBe('NO_HANDLER');
      expect(unknown.message).toContain('no.such.pattern');
    });

    it('answers request() as a promise exactly like send(): replies, keyed routing, errors and deadlines', async () => {
      const { server } = await replica('svc', probe());
      const c = await client('svc', { requestTimeoutMs: 300 });
      await expect(c.request<Echo>('echo', { hello: 'promise' })).resolves.toMatchObject({ data: { hello: 'promise' }, consumer: server.consumer });
      await expect(c.request<Echo>('echo', ordered('doc-1', { n: 1 }))).resolves.toMatchObject({ data: { n: 1 } });
      await expect(c.request('nothing', {})).resolves.toBeUndefined();
      const rpc = await failureOf(c.request('fail.rpc', {}));
      expect(rpc).toBeInstanceOf(TransportError);
      expect(rpc.toJSON()).toEqual({ code: 'CONFLICT', message: 'version mismatch', details: { head: 3 }, retryable: true });
      await expect(c.request('echo', undefined)).rejects.toBeInstanceOf(InvalidMessageException);
      // Through TypedClient (the gateway's face), an empty answer to a contract is a SERVER_ERROR, as with send().
      const typed = new TypedClient<{ nothing: { req: Record<string, never>; res: { n: number } } }>(c);
      await expect(typed.call('nothing', {})).rejects.toMatchObject({ code: 'SERVER_ERROR' });
      const nobody = await client('nobody', { requestTimeoutMs: 300 });
      const late = await failureOf(nobody.request('echo', {}));
      expect(late.code).toBe('UNAVAILABLE');
      expect(nobody.pendingCount()).toBe(0);
      expect(c.pendingCount()).toBe(0);
    });

    it('fails a request with UNAVAILABLE at its deadline when no replica runs, leaving no reply state', async () => {
      const c = await client('nobody', { requestTimeoutMs: 300 });
      const started = Date.now();
      const error = await failureOf(firstValueFrom(c.send('echo', {})));
      expect(error).toBeInstanceOf(TransportError);
      expect(error.code).toBe('UNAVAILABLE');
      expect(error.retryable).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(c.pendingCount()).toBe(0);
    });

    it('keeps a request sent while no replica runs until one starts', async () => {
      const c = await client('svc');
      const reply = firstValueFrom(c.send<Echo>('echo', { early: true }));
      const { server } = await replica('svc', probe());
      expect(await withDeadline('the early request', reply, 5_000)).toMatchObject({ data: { early: true }, consumer: server.consumer });
    });

    it('drops the reply state of a caller that unsubscribes', async () => {
      await replica('svc', probe());
      const c = await client('svc');
      const subscription = c.send('gated', {}).subscribe({ error: () => undefined });
      await waitFor('the request to be pending', () => c.pendingCount() === 1);
      subscription.unsubscribe();
      expect(c.pendingCount()).toBe(0);
    });

    it('delivers an event to every subscribed service, to one replica within each', async () => {
      const p = probe();
      await replica('alpha', p);
      await replica('alpha', p);
      await replica('beta', p);
      await replica('gamma', p, {}, RequestOnlyController);
      const c = await client('alpha');
      for (let n = 0; n < 20; n++) await lastValueFrom(c.emit('doc.changed', { n }), { defaultValue: undefined });
      const of = (service: string) => p.events.filter((e) => e.service === service);
      await waitFor('both subscribed services to get every event', () => of('alpha').length === 20 && of('beta').length === 20);
      for (const service of ['alpha', 'beta']) {
        expect(new Set(of(service).map((e) => e.requestId)).size).toBe(20);
        expect(of(service).map((e) => (e.data as { n: number }).n).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n));
      }
      expect(of('gamma')).toHaveLength(0);
    });

    it('runs at most `concurrency` handlers at once on a replica', async () => {
      const p = probe();
      const { server } = await replica('svc', p, { concurrency: 3 });
      const c = await client('svc');
      const calls = Array.from({ length: 10 }, (_, n) => firstValueFrom(c.send('gated', { n })));
      await waitFor('three handlers to run', () => p.running === 3);
      expect(server.inflightCount()).toBe(3);
      expect(p.handled.size).toBe(3);
      p.gate.open();
      await Promise.all(calls);
      expect(p.maxRunning).toBe(3);
      expect(p.handled.size).toBe(10);
    });

    it('handles messages with the same ordering key one at a time, in send order, across replicas', async () => {
      const p = probe();
      await replica('svc', p, { concurrency: 16 });
      await replica('svc', p, { concurrency: 16 });
      const byExtractor = await client('svc', { orderingKeys: { append: (d: { key: string }) => d.key } });
      const byWrapper = await client('svc');
      const keys = ['doc-a', 'doc-b', 'doc-c', 'doc-d', 'doc-e'];
      const calls: Promise<unknown>[] = [];
      for (let n = 0; n < 30; n++) {
        for (const key of keys) {
          // Even keys through the extractor option, odd through ordered(): both must order the same way.
          const [c, payload] = keys.indexOf(key) % 2 === 0 ? [byExtractor, { key, n }] : [byWrapper, ordered(key, { key, n })];
          calls.push(firstValueFrom(c.send('append', payload)));
        }
      }
      const replies = (await Promise.all(calls)) as Array<{ key: string }>;
      expect(replies.every((r, i) => r.key === keys[i % keys.length])).toBe(true);
      for (const key of keys) expect(p.orderByKey.get(key)).toEqual(Array.from({ length: 30 }, (_, n) => n));
      expect(p.maxRunningPerKey).toBe(1);
      expect(p.maxRunning).toBeGreaterThan(1);
      expect([...p.handled.values()].every((count) => count === 1)).toBe(true);
    });

    it("in 'affinity' mode sends a key's messages to one replica but runs them concurrently", async () => {
      const p = probe();
      const a = await replica('svc', p, { concurrency: 16, keyedMode: 'affinity' });
      const b = await replica('svc', p, { concurrency: 16, keyedMode: 'affinity' });
      const c = await client('svc');
      const replies = (await Promise.all(Array.from({ length: 20 }, (_, n) => firstValueFrom(c.send('append', ordered('doc-x', { key: 'doc-x', n })))))) as Array<{ key: string }>;
      expect(replies).toHaveLength(20);
      // One replica took the key (affinity), and same-key handlers overlapped (no serialisation).
      const consumers = [...p.byConsumer.keys()];
      expect(consumers).toHaveLength(1);
      expect([a.server.consumer, b.server.consumer]).toContain(consumers[0]);
      expect(p.maxRunningPerKey).toBeGreaterThan(1);
    });

    it('shuts down gracefully: stops taking messages, finishes in-flight ones, then closes', async () => {
      const p = probe();
      const first = await replica('svc', p);
      const c = await client('svc');
      const inflight = [firstValueFrom(c.send<Echo>('gated', { n: 1 })), firstValueFrom(c.send<Echo>('gated', { n: 2 }))];
      await waitFor('two handlers to run', () => p.running === 2);
      let closed = false;
      const closing = first.server.close().then(() => (closed = true));
      const later = firstValueFrom(c.send<Echo>('echo', { after: 'close' }));
      const second = await replica('svc', p);
      expect((await withDeadline('the request sent during shutdown', later, 5_000)).consumer).toBe(second.server.consumer);
      expect(closed).toBe(false);
      p.gate.open();
      const finished = await Promise.all(inflight);
      expect(finished.map((r) => r.consumer)).toEqual([first.server.consumer, first.server.consumer]);
      await withDeadline('close to finish', closing, 5_000);
      expect(first.server.isHealthy()).toBe(false);
    });
  });
}
