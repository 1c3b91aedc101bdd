import type { LoggerService, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { TypedClient, type OutboundMessage, type PresenceEvent, type SessionApi } from '@chorus/contracts';
import type { ServerMessage } from '@chorus/protocol';
import type { Fanout } from '@chorus/fanout';
import { startPeriodic, type PeriodicTask } from '@chorus/runtime';
import type { ExpiryOutbox, PendingExpiry, PresenceService } from './presence';
import type { VoiceService } from './voice';

/** Expiry records retried per sweep at most (bounds one sweep's work while the session service is down). */
const OUTBOX_BATCH = 200;

/**
 * Delivers the events the presence service produces on its own — lease expiry, typing expiry, selections
 * moved by a committed op — to the session's members through the fan-out. An expired lease (the peer's gateway
 * died) also ends the peer's membership of the live session: `peer_left` is appended to the session stream, so
 * reconnecting clients replay it like any other leave.
 *
 * Durable record first: the claim puts the expiry into the shared outbox (one atomic store step), its
 * `peer_left` is recorded (keyed by the expiry, so retries append once), and only then is the ephemeral
 * `presence_left` pushed. A failed record stays in the outbox and is retried by the next sweep of any replica.
 */
export class PresenceBroadcaster implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly session: TypedClient<SessionApi>;
  private task: PeriodicTask | undefined;

  constructor(
    private readonly presence: PresenceService,
    private readonly fanout: Fanout<OutboundMessage>,
    sessionClient: ClientProxy,
    private readonly nodeId: string,
    private readonly logger: LoggerService,
    private readonly outbox: ExpiryOutbox,
    /** An expired peer leaves its voice room too (`voice_user_left {reason: "expired"}`). */
    private readonly voice: VoiceService,
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
    await this.drainOutbox();
  }

  async broadcast(events: readonly PresenceEvent[]): Promise<void> {
    // An expiry with a state is already in the outbox: the store's claim enqueued it in the same atomic step
    // (PresenceStore.claimExpired), so it survives this replica; drainOutbox records it, then pushes it. An
    // expiry whose state was lost (no sweep for longer than the retention) has no user to record: pushed here.
    const rest = events.filter((e) => e.type !== 'peer_expired' || e.user_id === null || e.lease_expires_at === null);
    await Promise.all(rest.map((e) => this.deliver(e)));
  }

  /** Records the due expiries' peer_left, then pushes their presence_left; failures wait for the next sweep. */
  async drainOutbox(): Promise<void> {
    const due = await this.outbox.claimDue(OUTBOX_BATCH);
    await Promise.all(due.map((e) => this.recordExpiry(e)));
  }

  private async recordExpiry(e: PendingExpiry): Promise<void> {
    try {
      await this.session.call('session.disconnect', { session_id: e.session_id, user_id: e.user_id, peer_id: e.peer_id, reason: 'expired', expiry_key: e.expiry_key });
    } catch (err) {
      this.logger.warn(`Could not record peer_left for expired ${e.peer_id} (retried next sweep): ${(err as Error).message}`, 'PresenceBroadcaster');
      return;
    }
    await this.publish(e.session_id, { type: 'presence_left', session_id: e.session_id, peer_id: e.peer_id, user_id: e.user_id, reason: 'expired' });
    // Before `done`: a failure here leaves the expiry in the outbox, and the retry's leave still finds the member
    // (a removal is returned once, so a retry after a removal that succeeded announces nothing twice).
    await this.leaveVoice(e.session_id, e.peer_id);
    await this.outbox.done(e);
  }

  /** The expired peer's voice membership ends with its presence: voice_user_left once, to the session. */
  private async leaveVoice(sessionId: string, peerId: string): Promise<void> {
    const { events } = await this.voice.leave(sessionId, peerId, 'expired');
    for (const event of events) await this.publish(sessionId, { ...event });
  }

  private async deliver(event: PresenceEvent): Promise<void> {
    if (event.type === 'peer_expired') {
      await this.publish(event.session_id, { type: 'presence_left', session_id: event.session_id, peer_id: event.peer_id, user_id: event.user_id, reason: 'expired' });
      await this.leaveVoice(event.session_id, event.peer_id);
      return;
    }
    if (event.type === 'presence_left') {
      await this.publish(event.session_id, { ...event, reason: 'left' });
      return;
    }
    await this.publish(event.session_id, { ...event });
  }

  private async publish(sessionId: string, message: ServerMessage): Promise<void> {
    await this.fanout.publish(sessionId, { kind: 'push', message, audience: { to: 'session' }, origin_node: this.nodeId });
  }
}
