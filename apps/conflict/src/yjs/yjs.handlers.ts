import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { YjsApi } from '@chorus/contracts';
import { TransportExceptionFilter } from '@chorus/transport';
import { YjsService } from './yjs.service';

type Req<P extends keyof YjsApi> = YjsApi[P]['req'];
type Res<P extends keyof YjsApi> = Promise<YjsApi[P]['res']>;

/** Transport handlers of the conflict service's Yjs documents: one call into YjsService each (libs/contracts yjs.contract.ts). */
@Controller()
@UseFilters(TransportExceptionFilter)
export class YjsHandlers {
  constructor(@Inject(YjsService) private readonly yjs: YjsService) {}

  @MessagePattern('yjs.open')
  open(@Payload() r: Req<'yjs.open'>): Res<'yjs.open'> {
    return this.yjs.open(r.caller, r.payload);
  }

  @MessagePattern('yjs.state')
  state(@Payload() r: Req<'yjs.state'>): Res<'yjs.state'> {
    return this.yjs.state(r.caller, r.payload);
  }

  @MessagePattern('yjs.append')
  append(@Payload() r: Req<'yjs.append'>): Res<'yjs.append'> {
    return this.yjs.append(r.caller, r.payload);
  }

  @MessagePattern('yjs.list')
  list(@Payload() r: Req<'yjs.list'>): Res<'yjs.list'> {
    return this.yjs.list(r.caller, r.payload);
  }
}
