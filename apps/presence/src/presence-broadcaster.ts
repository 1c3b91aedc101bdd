import type { LoggerService, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { TypedClient, type PresenceEvent, type SessionApi } from '@chorus/contracts';
import type { Fanout } from '@chorus/fanout';
import { startPeriodic, type PeriodicTask } from '@chorus/runtime';
import type { PresenceService } from './presence';

/**
 * Delivers the events the presence service produces on its own — lease expiry, typing expiry, selections
 * moved by a committed op — to the session's members through the fan-out. An expired lease (the peer's gateway
 * died) also ends the peer's membership of the live session: `peer_left` is appended to the session stream, so
 * reconnecting clients replay it like any other leave.
 */
export class PresenceBroadcaster implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly session: TypedClient<SessionApi>;
  private task: PeriodicTask | undefined;

  constructor(
    private readonly presence: PresenceService,
    private readonly fanout: Fanout,
    sessionClient: ClientProxy,
    private readonly nodeId: string,
    private readonly logger: LoggerService,
    private readonly sweepIntervalMs = 1_000,
  ) {
    this.session = new TypedClient<SessionApi>(sessionClient);
  }

  onApplicationBootstrap(): void {
    this.task = startPeriodic('PresenceSweep', this.sweepIntervalMs, () => this.sweep(), this.logger);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task?.stop();
    await this.session.proxy.close();
  }

  /** One sweep on this replica: every expiry is claimed by exactly one replica, so each event goes out once. */
  async sweep(): Promise<void> {
    await this.broadcast(await this.presence.sweep());
  }

  async broadcast(events: readonly PresenceEvent[]): Promise<void> {
    await Promise.all(events.map((e) => this.deliver(e)));
  }

  private async deliver(event: PresenceEvent): Promise<void> {
    if (event.type === 'peer_expired') {
      await this.publish(event.session_id, { type: 'presence_left', session_id: event.session_id, peer_id: event.peer_id, user_id: event.user_id, reason: 'expired' });
      if (event.user_id !== null) {
        await this.session
          .call('session.disconnect', { session_id: event.session_id, user_id: event.user_id, peer_id: event.peer_id, reason: 'expired' })
          .catch((err: unknown) => this.logger.warn(`Could not record peer_left for expired ${event.peer_id}: ${(err as Error).message}`, 'PresenceBroadcaster'));
      }
      return;
    }
    if (event.type === 'presence_left') {
      await this.publish(event.session_id, { ...event, reason: 'left' });
      return;
    }
    await this.publish(event.session_id, { ...event });
  }

  private async publish(sessionId: string, body: Record<string, unknown>): Promise<void> {
    await this.fanout.publish(sessionId, { kind: 'ephemeral', body, origin_node: this.nodeId });
  }
}
