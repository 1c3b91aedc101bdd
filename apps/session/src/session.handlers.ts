import { Controller, Inject, UseFilters } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import type { SessionApi } from '@chorus/contracts';
import { TransportContext, TransportExceptionFilter } from '@chorus/transport';
import { SessionService } from './sessions/session.service';
import { AgentService } from './agents/agent.service';

type Req<P extends keyof SessionApi> = SessionApi[P]['req'];
type Res<P extends keyof SessionApi> = Promise<SessionApi[P]['res']>;

/**
 * Transport handlers of the session service: one call into SessionService each (contract: libs/contracts).
 * Delivery is at-least-once, so the handlers that append pass the transport request id (the same on every
 * redelivery) as their idempotency key.
 */
@Controller()
@UseFilters(TransportExceptionFilter)
export class SessionHandlers {
  constructor(
    @Inject(SessionService) private readonly sessions: SessionService,
    @Inject(AgentService) private readonly agents: AgentService,
  ) {}

  @MessagePattern('session.create')
  create(@Payload() r: Req<'session.create'>): Res<'session.create'> {
    return this.sessions.create(r.actor, r.body);
  }

  @MessagePattern('session.list')
  list(@Payload() r: Req<'session.list'>): Res<'session.list'> {
    return this.sessions.list(r.actor);
  }

  @MessagePattern('session.get')
  get(@Payload() r: Req<'session.get'>): Res<'session.get'> {
    return this.sessions.get(r.actor, r.session_id);
  }

  @MessagePattern('session.delete')
  async delete(@Payload() r: Req<'session.delete'>): Res<'session.delete'> {
    await this.sessions.delete(r.actor, r.session_id);
    return { deleted: true };
  }

  @MessagePattern('invite.create')
  createInvite(@Payload() r: Req<'invite.create'>, @Ctx() ctx: TransportContext): Res<'invite.create'> {
    return this.sessions.createInvite(r.actor, r.session_id, r.body, ctx.getRequestId());
  }

  @MessagePattern('invite.revoke')
  async revokeInvite(@Payload() r: Req<'invite.revoke'>): Res<'invite.revoke'> {
    await this.sessions.revokeInvite(r.actor, r.session_id, r.invite_id);
    return { revoked: true };
  }

  @MessagePattern('invite.redeem')
  redeem(@Payload() r: Req<'invite.redeem'>): Res<'invite.redeem'> {
    return this.sessions.redeemInvite(r.actor, r.code, r.password);
  }

  @MessagePattern('session.join')
  join(@Payload() r: Req<'session.join'>): Res<'session.join'> {
    return this.sessions.join(r.actor, r.session_id, r.password);
  }

  @MessagePattern('session.leave')
  leave(@Payload() r: Req<'session.leave'>): Res<'session.leave'> {
    return this.sessions.leave(r.actor, r.session_id);
  }

  @MessagePattern('participant.list')
  participants(@Payload() r: Req<'participant.list'>): Res<'participant.list'> {
    return this.sessions.participants(r.actor, r.session_id);
  }

  @MessagePattern('participant.update_role')
  updateRole(@Payload() r: Req<'participant.update_role'>): Res<'participant.update_role'> {
    return this.sessions.updateRole(r.actor, r.session_id, r.user_id, r.role);
  }

  @MessagePattern('participant.remove')
  remove(@Payload() r: Req<'participant.remove'>): Res<'participant.remove'> {
    return this.sessions.removeParticipant(r.actor, r.session_id, r.user_id);
  }

  @MessagePattern('session.connect')
  connect(@Payload() r: Req<'session.connect'>, @Ctx() ctx: TransportContext): Res<'session.connect'> {
    return this.sessions.connect(r.grant, r.peer_id, ctx.getRequestId());
  }

  @MessagePattern('session.disconnect')
  disconnect(@Payload() r: Req<'session.disconnect'>, @Ctx() ctx: TransportContext): Res<'session.disconnect'> {
    return this.sessions.disconnect(r.session_id, r.user_id, r.peer_id, r.reason, { requestId: ctx.getRequestId(), expiryKey: r.expiry_key });
  }

  @MessagePattern('session.chat')
  chat(@Payload() r: Req<'session.chat'>, @Ctx() ctx: TransportContext): Res<'session.chat'> {
    return this.sessions.chat(r.session_id, r.user, r.peer_id, r.message, { clientMsgId: r.client_msg_id, requestId: ctx.getRequestId() });
  }

  @MessagePattern('session.chat_edit')
  chatEdit(@Payload() r: Req<'session.chat_edit'>, @Ctx() ctx: TransportContext): Res<'session.chat_edit'> {
    return this.sessions.editChat(r.session_id, r.user, r.peer_id, r.seq, r.message, ctx.getRequestId());
  }

  @MessagePattern('session.chat_delete')
  chatDelete(@Payload() r: Req<'session.chat_delete'>): Res<'session.chat_delete'> {
    return this.sessions.deleteChat(r.session_id, r.user, r.seq);
  }

  @MessagePattern('session.events')
  events(@Payload() r: Req<'session.events'>): Res<'session.events'> {
    return this.sessions.streamEvents(r.session_id, r.user_id, r.after_seq, r.limit);
  }

  @MessagePattern('session.gone')
  gone(@Payload() r: Req<'session.gone'>): Res<'session.gone'> {
    return this.sessions.gone(r.session_ids);
  }

  @MessagePattern('session.history')
  history(@Payload() r: Req<'session.history'>): Res<'session.history'> {
    return this.sessions.history(r.actor, r.session_id, r.query);
  }

  // ---- agents and the prompt queue ----

  @MessagePattern('agent.create')
  createAgent(@Payload() r: Req<'agent.create'>, @Ctx() ctx: TransportContext): Res<'agent.create'> {
    return this.agents.create(r.actor, r.session_id, r.body, ctx.getRequestId());
  }

  @MessagePattern('agent.list')
  listAgents(@Payload() r: Req<'agent.list'>): Res<'agent.list'> {
    return this.agents.list(r.actor, r.session_id);
  }

  @MessagePattern('agent.revoke')
  async revokeAgent(@Payload() r: Req<'agent.revoke'>): Res<'agent.revoke'> {
    await this.agents.revoke(r.actor, r.session_id, r.agent_id);
    return { revoked: true };
  }

  @MessagePattern('prompt.submit')
  submitPrompt(@Payload() r: Req<'prompt.submit'>): Res<'prompt.submit'> {
    return this.agents.submit(r.actor, r.session_id, r.body);
  }

  @MessagePattern('prompt.cancel')
  async cancelPrompt(@Payload() r: Req<'prompt.cancel'>): Res<'prompt.cancel'> {
    await this.agents.cancel(r.actor, r.session_id, r.message_id);
    return { cancelled: true };
  }

  @MessagePattern('prompt.reorder')
  reorderPrompt(@Payload() r: Req<'prompt.reorder'>): Res<'prompt.reorder'> {
    return this.agents.reorder(r.actor, r.session_id, r.message_id, r.position);
  }

  @MessagePattern('prompt.queues')
  queues(@Payload() r: Req<'prompt.queues'>): Res<'prompt.queues'> {
    return this.agents.queues(r.actor, r.session_id);
  }

  @MessagePattern('prompt.claim')
  claim(@Payload() r: Req<'prompt.claim'>): Res<'prompt.claim'> {
    return this.agents.claim(r.actor, r.session_id);
  }

  @MessagePattern('prompt.done')
  done(@Payload() r: Req<'prompt.done'>): Res<'prompt.done'> {
    return this.agents.done(r.actor, r.session_id, r.message_id);
  }

  @MessagePattern('prompt.renew')
  async renew(@Payload() r: Req<'prompt.renew'>): Res<'prompt.renew'> {
    return { renewed: await this.agents.renew(r.actor, r.session_id) };
  }

  @MessagePattern('agent.status')
  agentStatus(@Payload() r: Req<'agent.status'>): Res<'agent.status'> {
    return this.agents.status(r.actor, r.session_id, r.status, r.detail);
  }

  @MessagePattern('agent.edited')
  async agentEdited(@Payload() r: Req<'agent.edited'>): Res<'agent.edited'> {
    await this.agents.edited(r.actor, r.session_id, r.doc_id, r.version);
    return { recorded: true };
  }

  @MessagePattern('prompt.release')
  async release(@Payload() r: Req<'prompt.release'>): Res<'prompt.release'> {
    return { released: await this.agents.release(r.session_id, r.agent_id) };
  }

  @MessagePattern('agent.output')
  output(@Payload() r: Req<'agent.output'>): Res<'agent.output'> {
    return this.agents.output(r.actor, r.session_id, r.body);
  }

  @MessagePattern('prompt.messages')
  messages(@Payload() r: Req<'prompt.messages'>): Res<'prompt.messages'> {
    return this.agents.messages(r.actor, r.session_id, r.query);
  }

  @MessagePattern('agent.activity')
  activity(@Payload() r: Req<'agent.activity'>): Res<'agent.activity'> {
    return this.agents.activity(r.actor, r.session_id, r.query);
  }
}
