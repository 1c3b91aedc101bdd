import { Controller, Inject, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { ConflictApi } from '@chorus/contracts';
import { TransportExceptionFilter } from '@chorus/transport';
import { ConflictService } from './conflict.service';

type Req<P extends keyof ConflictApi> = ConflictApi[P]['req'];
type Res<P extends keyof ConflictApi> = Promise<ConflictApi[P]['res']>;

/** Transport handlers of the conflict service: one call into ConflictService each (contract: libs/contracts). */
@Controller()
@UseFilters(TransportExceptionFilter)
export class ConflictHandlers {
  constructor(@Inject(ConflictService) private readonly documents: ConflictService) {}

  @MessagePattern('document.open')
  open(@Payload() r: Req<'document.open'>): Res<'document.open'> {
    return this.documents.openDocument(r.caller, r.payload);
  }

  @MessagePattern('op.submit')
  submit(@Payload() r: Req<'op.submit'>): Res<'op.submit'> {
    return this.documents.submitOp(r.caller, r.payload);
  }

  @MessagePattern('ops.fetch')
  fetch(@Payload() r: Req<'ops.fetch'>): Res<'ops.fetch'> {
    return this.documents.fetchOps(r.caller, r.payload);
  }

  @MessagePattern('document.history')
  history(@Payload() r: Req<'document.history'>): Res<'document.history'> {
    return this.documents.historyPage(r.caller, r.payload);
  }

  @MessagePattern('document.at')
  at(@Payload() r: Req<'document.at'>): Res<'document.at'> {
    return this.documents.documentAt(r.caller, r.payload);
  }

  @MessagePattern('session.purge')
  purge(@Payload() r: Req<'session.purge'>): Res<'session.purge'> {
    return this.documents.purgeSession(r);
  }

  @MessagePattern('file.lock')
  lock(@Payload() r: Req<'file.lock'>): Res<'file.lock'> {
    return this.documents.lockFile(r.caller, r.payload);
  }

  @MessagePattern('file.unlock')
  unlock(@Payload() r: Req<'file.unlock'>): Res<'file.unlock'> {
    return this.documents.unlockFile(r.caller, r.payload);
  }

  @MessagePattern('conflict.resolve')
  resolve(@Payload() r: Req<'conflict.resolve'>): Res<'conflict.resolve'> {
    return this.documents.resolveConflict(r.caller, r.payload);
  }

  @MessagePattern('conflict.get')
  conflict(@Payload() r: Req<'conflict.get'>): Res<'conflict.get'> {
    return this.documents.getConflict(r.caller, r.payload);
  }

  @MessagePattern('conflicts.list')
  conflicts(@Payload() r: Req<'conflicts.list'>): Res<'conflicts.list'> {
    return this.documents.listConflicts(r.caller, r.payload);
  }

  @MessagePattern('locks.list')
  locks(@Payload() r: Req<'locks.list'>): Res<'locks.list'> {
    return this.documents.listLocks(r.caller, r.payload);
  }
}
