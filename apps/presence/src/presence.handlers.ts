import { Controller, Inject, Logger, UseFilters } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload } from '@nestjs/microservices';
import type { PresenceApi } from '@chorus/contracts';
import { TransportExceptionFilter } from '@chorus/transport';
import { PresenceService } from './presence';
import { SelectionBatcher } from './selection-batcher';
import { VoiceService } from './voice';

type Req<P extends keyof PresenceApi> = PresenceApi[P]['req'];
type Res<P extends keyof PresenceApi> = Promise<PresenceApi[P]['res']>;

/** Transport handlers of the presence service: one call into PresenceService each (contract: libs/contracts). */
@Controller()
@UseFilters(TransportExceptionFilter)
export class PresenceHandlers {
  private readonly logger = new Logger('PresenceHandlers');

  constructor(
    @Inject(PresenceService) private readonly presence: PresenceService,
    @Inject(SelectionBatcher) private readonly selections: SelectionBatcher,
    @Inject(VoiceService) private readonly voice: VoiceService,
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

  /**
   * A peer leaving the session leaves its voice room too: its presence and its voice membership end together.
   * Presence first (a voice_join racing this leave re-checks presence after its write and undoes itself). A
   * failed voice leave must not cost the others the presence_left of a presence already removed: logged, and
   * the membership stays until the room store's TTL (it relays to nobody: the peer has no connection).
   */
  @MessagePattern('presence.leave')
  async leave(@Payload() r: Req<'presence.leave'>): Res<'presence.leave'> {
    const events = await this.presence.leave(r.session_id, r.peer_id, r.user_id);
    try {
      const voice = await this.voice.leave(r.session_id, r.peer_id, 'disconnected', r.user_id);
      return [...events, ...voice.events];
    } catch (err) {
      this.logger.error(`Voice leave of ${r.peer_id} in session ${r.session_id} failed (its membership lingers): ${(err as Error).message}`, undefined, 'PresenceHandlers');
      return events;
    }
  }

  @MessagePattern('voice.join')
  voiceJoin(@Payload() r: Req<'voice.join'>): Res<'voice.join'> {
    return this.voice.join(r);
  }

  @MessagePattern('voice.leave')
  voiceLeave(@Payload() r: Req<'voice.leave'>): Res<'voice.leave'> {
    return this.voice.leave(r.session_id, r.peer_id, 'left', r.user_id);
  }

  @MessagePattern('voice.set_muted')
  voiceSetMuted(@Payload() r: Req<'voice.set_muted'>): Res<'voice.set_muted'> {
    return this.voice.setMuted(r.session_id, r.peer_id, r.muted);
  }

  @MessagePattern('voice.relay')
  voiceRelay(@Payload() r: Req<'voice.relay'>): Res<'voice.relay'> {
    return this.voice.relay(r.session_id, r.from_peer_id, r.to_peer_id);
  }

  @MessagePattern('voice.room_of')
  voiceRoomOf(@Payload() r: Req<'voice.room_of'>): Res<'voice.room_of'> {
    return this.voice.roomOf(r.session_id, r.peer_id);
  }

  @MessagePattern('voice.list')
  voiceList(@Payload() r: Req<'voice.list'>): Res<'voice.list'> {
    return this.voice.list(r.session_id);
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
