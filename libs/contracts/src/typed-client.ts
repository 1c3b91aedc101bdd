import type { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { ChorusError } from '@chorus/protocol';

type Api<A> = { [K in keyof A]: { req: unknown; res: unknown } };

/**
 * A typed face on a transport client: `call('session.get', {...})` checks the request and response types
 * against the service contract, and turns any transport or service failure into a ChorusError (UNAVAILABLE
 * on deadline, the service's own code otherwise).
 */
export class TypedClient<A extends Api<A>> {
  constructor(private readonly client: ClientProxy) {}

  async call<P extends keyof A & string>(pattern: P, req: A[P]['req']): Promise<A[P]['res']> {
    try {
      return (await firstValueFrom(this.client.send<A[P]['res'], A[P]['req']>(pattern, req))) as A[P]['res'];
    } catch (err) {
      throw ChorusError.from(err);
    }
  }

  /** Fire-and-forget event to every interested service (one replica each). */
  async emit<P extends string>(pattern: P, data: unknown): Promise<void> {
    await firstValueFrom(this.client.emit(pattern, data), { defaultValue: undefined });
  }

  get proxy(): ClientProxy {
    return this.client;
  }
}
