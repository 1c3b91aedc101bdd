import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { YjsApi } from '@chorus/contracts';
import { TransportExceptionFilter } from '@chorus/transport';
import { YjsVersions } from './yjs-versions';

type Req<P extends keyof YjsApi> = YjsApi[P]['req'];
type Res<P extends keyof YjsApi> = Promise<YjsApi[P]['res']>;

/** Transport handlers of Yjs version history (docs/yjs.md "Version history"): one call into YjsVersions each. */
@Controller()
@UseFilters(TransportExceptionFilter)
export class YjsVersionsHandlers {
  constructor(@Inject(YjsVersions) private readonly versions: YjsVersions) {}

  @MessagePattern('yjs.versions')
  list(@Payload() r: Req<'yjs.versions'>): Res<'yjs.versions'> {
    return this.versions.list(r.caller, r.payload);
  }

  @MessagePattern('yjs.version')
  read(@Payload() r: Req<'yjs.version'>): Res<'yjs.version'> {
    return this.versions.read(r.caller, r.payload);
  }

  @MessagePattern('yjs.save_version')
  save(@Payload() r: Req<'yjs.save_version'>): Res<'yjs.save_version'> {
    return this.versions.save(r.caller, r.payload);
  }

  @MessagePattern('yjs.restore')
  restore(@Payload() r: Req<'yjs.restore'>): Res<'yjs.restore'> {
    return this.versions.restore(r.caller, r.payload);
  }
}
