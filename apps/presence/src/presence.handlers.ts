import { Controller, Inject, UseFilters } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import type { PresenceApi } from '@chorus/contracts';
import { TransportExceptionFilter } from '@chorus/transport';
import { PresenceService } from './presence';
import { SelectionBatcher } from './selection-batcher';

type Req<P extends keyof PresenceApi> = PresenceApi[P]['req'];
type Res<P extends keyof PresenceApi> = Promise<PresenceApi[P]['res']>;

/** Transport handlers of the presence service: one call into PresenceService each (contract: libs/contracts). */
@Controller()
@UseFilters(TransportExceptionFilter)
export class PresenceHandlers {
  constructor(
    @Inject(PresenceService) private readonly presence: PresenceService,
    @Inject(SelectionBatcher) private readonly selections: SelectionBatcher,
  ) {}

  @MessagePattern('presence.join')
  join(@Payload() r: Req<'presence.join'>): Res<'presence.join'> {
    return this.presence.join(r);
  }

  @MessagePattern('presence.update')
  update(@Payload() r: Req<'presence.update'>): Res<'presence.update'> {
    return this.presence.update(r.session_id, r.peer_id, r.patch);
  }

  @MessagePattern('presence.typing')
  typing(@Payload() r: Req<'presence.typing'>): Res<'presence.typing'> {
    return this.presence.typing(r.session_id, r.peer_id, r.doc_id);
  }

  @MessagePattern('presence.stop_typing')
  stopTyping(@Payload() r: Req<'presence.stop_typing'>): Res<'presence.stop_typing'> {
    return this.presence.stopTyping(r.session_id, r.peer_id);
  }

  @MessagePattern('presence.leave')
  leave(@Payload() r: Req<'presence.leave'>): Res<'presence.leave'> {
    return this.presence.leave(r.session_id, r.peer_id, r.user_id);
  }

  @MessagePattern('presence.who')
  who(@Payload() r: Req<'presence.who'>): Res<'presence.who'> {
    return this.presence.who(r.session_id);
  }

  @MessagePattern('presence.heartbeat')
  heartbeat(@Payload() r: Req<'presence.heartbeat'>): Res<'presence.heartbeat'> {
    return this.presence.heartbeatNode(r.node_id);
  }

  /**
   * An op was committed: carry every peer's stored selection on that document through it (the conflict
   * service's tie rule), so `who` and peers joining later see cursors on the right characters — each version
   * once and in version order, whatever the transport's order and redeliveries (SelectionBatcher). Nothing is
   * broadcast: every client applies the same rule to the cursors it shows as it applies the op — a broadcast per
   * op per peer would turn one keystroke in a 200-peer session into 40,000 messages.
   */
  @EventPattern('presence.op_committed')
  async opCommitted(@Payload() r: Req<'presence.op_committed'>): Promise<void> {
    await this.selections.add(r);
  }
}
