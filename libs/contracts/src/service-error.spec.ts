import { Controller, Module, UseFilters, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern } from '@nestjs/microservices';
import { ChorusError } from '@chorus/protocol';
import { InProcessBroker, InProcessClient, InProcessServer, TransportError, TransportExceptionFilter } from '@chorus/transport';
import { TypedClient } from './typed-client';
import { serviceErrorToChorus } from './service-error';

// What a client sees when a service call fails: the service's own code, never the transport's plumbing.
// Through a real Nest microservice on the in-process transport (the same base server as Redis Streams).

@Controller()
@UseFilters(new TransportExceptionFilter())
class ProbeController {
  @MessagePattern('probe.missing')
  missing(): never {
    throw new ChorusError('NOT_FOUND', 'Session s1 does not exist.');
  }

  @MessagePattern('probe.locked')
  locked(): never {
    throw new ChorusError('FILE_LOCKED', 'locked by alice', { field: 'doc_id', locked_by: 'alice' });
  }

  @MessagePattern('probe.crash')
  crash(): never {
    throw new Error('relation "x" does not exist');
  }
}

@Module({ controllers: [ProbeController] })
class ProbeModule {}

type ProbeApi = Record<'probe.missing' | 'probe.locked' | 'probe.crash' | 'probe.nobody.handles.this', { req: Record<string, never>; res: unknown }>;

describe('service errors reaching clients', () => {
  const broker = new InProcessBroker();
  let app: INestMicroservice;
  let client: InProcessClient;
  let calls: TypedClient<ProbeApi>;

  beforeAll(async () => {
    app = await NestFactory.createMicroservice(ProbeModule, { strategy: new InProcessServer({ broker, service: 'probe', nodeId: 'test' }), logger: false });
    await app.listen();
    client = new InProcessClient({ broker, service: 'probe', nodeId: 'test', requestTimeoutMs: 300 });
    await client.connect();
    calls = new TypedClient<ProbeApi>(client);
  });
  afterAll(async () => {
    await client?.close();
    await app?.close();
  });

  const failure = (p: Promise<unknown>): Promise<ChorusError> => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as ChorusError);

  it('keeps a domain code and its details', async () => {
    expect((await failure(calls.call('probe.missing', {}))).code).toBe('NOT_FOUND');
    const locked = await failure(calls.call('probe.locked', {}));
    expect(locked).toBeInstanceOf(ChorusError);
    expect(locked.toWire()).toMatchObject({ code: 'FILE_LOCKED', retryable: true, field: 'doc_id', locked_by: 'alice' });
  });

  it('maps a pattern no handler serves to SERVER_ERROR, not the protocol NOT_FOUND', async () => {
    const e = await failure(calls.call('probe.nobody.handles.this', {}));
    expect({ code: e.code, retryable: e.retryable }).toEqual({ code: 'SERVER_ERROR', retryable: true });
  });

  it('maps an uncoded handler failure to SERVER_ERROR without its text', async () => {
    const e = await failure(calls.call('probe.crash', {}));
    expect(e.code).toBe('SERVER_ERROR');
    expect(e.message).not.toContain('relation');
  });

  it('maps a deadline to UNAVAILABLE and the transport codes one by one', async () => {
    const silent = new InProcessClient({ broker, service: 'nobody', nodeId: 'test', requestTimeoutMs: 100 });
    await silent.connect();
    try {
      expect((await failure(new TypedClient<ProbeApi>(silent).call('probe.missing', {}))).code).toBe('UNAVAILABLE');
    } finally {
      await silent.close();
    }
    const codes = ['UNAVAILABLE', 'NO_HANDLER', 'DEAD_LETTER', 'INTERNAL', 'NOT_FOUND', 'SOMETHING_ELSE'].map((code) => serviceErrorToChorus(new TransportError({ code, message: 'm' }), 'p').code);
    expect(codes).toEqual(['UNAVAILABLE', 'SERVER_ERROR', 'SERVER_ERROR', 'SERVER_ERROR', 'NOT_FOUND', 'SERVER_ERROR']);
  });
});
