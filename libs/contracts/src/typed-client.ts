import type { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { ChorusError } from '@chorus/protocol';
import { serviceErrorToChorus } from './service-error';

type Api<A> = { [K in keyof A]: { req: unknown; res: unknown } };

/** A client that can also answer a request as a promise (libs/transport's clients): no Observable per call. */
interface PromiseRequests {
  request<T>(pattern: string, data: unknown): Promise<T>;
}

const hasPromiseRequests = (client: ClientProxy): client is ClientProxy & PromiseRequests =>
  typeof (client as Partial<PromiseRequests>).request === 'function';

/**
 * A typed face on a transport client: `call('session.get', {...})` checks the request and response types
 * against the service contract, and turns any transport or service failure into a ChorusError (UNAVAILABLE
 * on deadline, SERVER_ERROR for the transport's own failures, the service's own code otherwise).
 */
export class TypedClient<A extends Api<A>> {
  constructor(
    private readonly client: ClientProxy,
    /** Told the round-trip time of every call (metrics). */
    private readonly observe?: (pattern: string, seconds: number, ok: boolean) => void,
  ) {}

  async call<P extends keyof A & string>(pattern: P, req: A[P]['req']): Promise<A[P]['res']> {
    const started = performance.now();
    let ok = false;
    try {
      const client = this.client;
      const result = hasPromiseRequests(client)
        ? await client.request<A[P]['res'] | undefined>(pattern, req)
        : ((await firstValueFrom(client.send<A[P]['res'], A[P]['req']>(pattern, req))) as A[P]['res']);
      // Every contract answers something: an empty reply is a service bug, reported as one (as send() did).
      if (result === undefined) throw new ChorusError('SERVER_ERROR', `Internal error: the service answered "${pattern}" with nothing; retry with backoff, and report it if it persists.`);
      ok = true;
      return result;
    } catch (err) {
      throw serviceErrorToChorus(err, pattern);
    } finally {
      this.observe?.(pattern, (performance.now() - started) / 1000, ok);
    }
  }

  /** Fire-and-forget event to every interested service (one replica each), typed by the contract. */
  async emit<P extends keyof A & string>(pattern: P, data: A[P]['req']): Promise<void> {
    await firstValueFrom(this.client.emit(pattern, data), { defaultValue: undefined });
  }

  get proxy(): ClientProxy {
    return this.client;
  }
}
