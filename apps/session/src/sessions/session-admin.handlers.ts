import { Controller, Inject, UseFilters } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import type { SessionAdminApi } from '@chorus/contracts';
import { TransportContext, TransportExceptionFilter } from '@chorus/transport';
import { SessionAdminService } from './session-admin.service';

type Req<P extends keyof SessionAdminApi> = SessionAdminApi[P]['req'];
type Res<P extends keyof SessionAdminApi> = Promise<SessionAdminApi[P]['res']>;

/** Transport handlers of session management: one call into SessionAdminService each (contract: libs/contracts). */
@Controller()
@UseFilters(TransportExceptionFilter)
export class SessionAdminHandlers {
  constructor(@Inject(SessionAdminService) private readonly admin: SessionAdminService) {}

  @MessagePattern('session.update')
  update(@Payload() r: Req<'session.update'>, @Ctx() ctx: TransportContext): Res<'session.update'> {
    return this.admin.update(r.actor, r.session_id, r.body, ctx.getRequestId());
  }

  @MessagePattern('session.discover')
  discover(@Payload() r: Req<'session.discover'>): Res<'session.discover'> {
    return this.admin.discover(r.actor, r.query);
  }

  @MessagePattern('invite.list')
  invites(@Payload() r: Req<'invite.list'>): Res<'invite.list'> {
    return this.admin.listInvites(r.actor, r.session_id);
  }

  @MessagePattern('audit.page')
  auditPage(@Payload() r: Req<'audit.page'>): Res<'audit.page'> {
    return this.admin.auditPage(r.actor, r.session_id, r.query);
  }

  @MessagePattern('audit.record')
  record(@Payload() r: Req<'audit.record'>, @Ctx() ctx: TransportContext): Res<'audit.record'> {
    return this.admin.record(r.session_id, r.record, ctx.getRequestId());
  }

  @MessagePattern('template.create')
  createTemplate(@Payload() r: Req<'template.create'>, @Ctx() ctx: TransportContext): Res<'template.create'> {
    return this.admin.createTemplate(r.actor, r.body, ctx.getRequestId());
  }

  @MessagePattern('template.list')
  listTemplates(@Payload() r: Req<'template.list'>): Res<'template.list'> {
    return this.admin.listTemplates(r.actor);
  }

  @MessagePattern('template.get')
  getTemplate(@Payload() r: Req<'template.get'>): Res<'template.get'> {
    return this.admin.getTemplate(r.actor, r.template_id);
  }

  @MessagePattern('template.update')
  updateTemplate(@Payload() r: Req<'template.update'>): Res<'template.update'> {
    return this.admin.updateTemplate(r.actor, r.template_id, r.body);
  }

  @MessagePattern('template.delete')
  deleteTemplate(@Payload() r: Req<'template.delete'>): Res<'template.delete'> {
    return this.admin.deleteTemplate(r.actor, r.template_id);
  }
}
