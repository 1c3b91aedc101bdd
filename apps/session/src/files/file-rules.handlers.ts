import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { SessionApi } from '@chorus/contracts';
import { TransportExceptionFilter } from '@chorus/transport';
import { FileRulesService } from './file-rules.service';

type Req<P extends keyof SessionApi> = SessionApi[P]['req'];
type Res<P extends keyof SessionApi> = Promise<SessionApi[P]['res']>;

/** Transport handlers of the per-file path rules: one call into FileRulesService each. */
@Controller()
@UseFilters(TransportExceptionFilter)
export class FileRulesHandlers {
  constructor(@Inject(FileRulesService) private readonly rules: FileRulesService) {}

  @MessagePattern('file_rules.get')
  get(@Payload() r: Req<'file_rules.get'>): Res<'file_rules.get'> {
    return this.rules.get(r.actor, r.session_id);
  }

  @MessagePattern('file_rules.set')
  set(@Payload() r: Req<'file_rules.set'>): Res<'file_rules.set'> {
    return this.rules.set(r.actor, r.session_id, r.body);
  }

  @MessagePattern('file_rules.enforced')
  enforced(@Payload() r: Req<'file_rules.enforced'>): Res<'file_rules.enforced'> {
    return this.rules.forEnforcement(r.session_id);
  }

  @MessagePattern('conflict.audit')
  audit(@Payload() r: Req<'conflict.audit'>): Res<'conflict.audit'> {
    return this.rules.auditConflict(r);
  }
}
