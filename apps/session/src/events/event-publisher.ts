import type { LoggerService } from '@nestjs/common';
import type { OutboundMessage } from '@chorus/contracts';
import type { ServerMessage } from '@chorus/protocol';
import type { Fanout } from '@chorus/fanout';
import type { StoredSessionEvent } from './event-log';

/**
 * Hands committed session events to the fan-out, so every gateway with members of the session delivers them.
 * Called only after the commit. A failed publish is logged, never surfaced: the event is durable, and a
 * gateway that misses it sees a gap in `seq` at the next event and reads it back from the stream.
 */
export class SessionEventPublisher {
  constructor(
    private readonly fanout: Fanout<OutboundMessage>,
    private readonly nodeId: string,
    private readonly logger: LoggerService,
  ) {}

  async publish(events: readonly StoredSessionEvent[]): Promise<void> {
    await Promise.all(
      events.map((event) =>
        this.fanout
          .publish(event.session_id, { kind: 'event', event: { ...event }, origin_node: this.nodeId })
          .catch((err: unknown) => this.logger.warn(`Fan-out of ${event.session_id}#${event.seq} failed (gateways will fill the gap): ${(err as Error).message}`, 'SessionEventPublisher')),
      ),
    );
  }

  /**
   * An ephemeral push to every member of the session (queue positions): after the commit it describes, through
   * the same road. Lost on a failed publish (logged); the next change, or `GET …/queue`, brings it back.
   */
  async push(sessionId: string, message: ServerMessage): Promise<void> {
    await this.fanout
      .publish(sessionId, { kind: 'push', message, audience: { to: 'session' }, origin_node: this.nodeId })
      .catch((err: unknown) => this.logger.warn(`Fan-out of a ${message.type} push to ${sessionId} failed: ${(err as Error).message}`, 'SessionEventPublisher'));
  }
}
