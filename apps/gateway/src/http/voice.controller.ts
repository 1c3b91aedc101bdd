import { Controller, Get, Inject, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { iceServersFor, type Identity, type IceSettings } from '@chorus/auth';
import { iceServersViewSchema, type IceServersView } from '@chorus/protocol';
import { AccessTokenGuard, Actor } from './auth';
import { Documented } from './openapi';

export const ICE_SETTINGS = Symbol('ICE_SETTINGS');

@ApiTags('voice')
@ApiBearerAuth()
@UseGuards(AccessTokenGuard)
@Controller('api/v1/voice')
export class VoiceController {
  constructor(@Inject(ICE_SETTINGS) private readonly settings: IceSettings) {}

  /**
   * The caller's ICE servers (VOICE_* configuration): STUN as configured, TURN with credentials minted for this
   * user now. Any signed-in user may ask: the credentials are per user and short-lived, and a TURN server
   * relays nothing without a peer that signals through a session the user is in.
   */
  @Get('ice-servers')
  @Documented({ summary: 'STUN/TURN servers for WebRTC, with short-lived per-user TURN credentials', response: iceServersViewSchema, errors: [401] })
  iceServers(@Actor() actor: Identity): IceServersView {
    const { ice_servers, expires_at } = iceServersFor(this.settings, actor.user_id, Date.now());
    return { ice_servers: ice_servers.map((s) => ({ ...s, urls: [...s.urls] })), expires_at };
  }
}
