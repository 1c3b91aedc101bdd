import type { LoggerService } from '@nestjs/common';
import type { OutboundPush } from '@chorus/contracts';
import type { ServerMessage } from '@chorus/protocol';
import type { LocalHub } from '../fanout/local-hub';
import type { Connection, GatewayDeps, Membership } from '../socket/connection';
import type { PartialOutputStore } from './partial-output';

interface Waiting {
  readonly connection: Connection;
  readonly membership: Membership;
  readonly deps: GatewayDeps;
  claiming: boolean;
  /** A queue change arrived while a claim was under way: try once more after it. */
  again: boolean;
}

/**
 * The gateway's side of agents' work: idle agents pushed `prompt_assigned`, and joiners given the text so far.
 *
 * An agent connection whose `prompt_claim` found nothing waits here (per node: only this node holds its
 * socket). Every gateway sees every `queue_updated` of the sessions its members are in (it comes down the one
 * outbound road to this node's hub); when a queue a waiting agent takes from has work, the gateway claims for
 * it — the session service decides under its queue lock, so across any number of gateways a prompt is assigned
 * once — and pushes the answer to that agent as `prompt_assigned`. An agent that left, closed or got a prompt
 * otherwise is dropped from the waiting set at its next check.
 */
export class AgentDispatch {
  private readonly waiting = new Map<string, Map<Membership, Waiting>>();

  constructor(
    readonly partials: PartialOutputStore,
    private readonly logger: LoggerService,
    private readonly onFailure: () => void,
  ) {}

  /** The agent's claim found nothing: it is pushed the next prompt of its queues. */
  wait(connection: Connection, membership: Membership, deps: GatewayDeps): void {
    let session = this.waiting.get(membership.session_id);
    if (!session) this.waiting.set(membership.session_id, (session = new Map()));
    if (!session.has(membership)) session.set(membership, { connection, membership, deps, claiming: false, again: false });
    // Agents that closed or left without a queue change since are forgotten here (or at the next change).
    for (const [m, w] of session) if (!w.connection.open || w.connection.data.memberships.get(m.session_id) !== m) session.delete(m);
  }

  /** The agent has a prompt (its claim answered one) or stopped waiting. */
  busy(membership: Membership): void {
    const session = this.waiting.get(membership.session_id);
    session?.delete(membership);
    if (session?.size === 0) this.waiting.delete(membership.session_id);
  }

  /** The hub as the fan-out sees it, with `queue_updated` looked at first. */
  watch(hub: LocalHub): LocalHub {
    return {
      toSockets: (socketIds, message) => hub.toSockets(socketIds, message),
      push: (sessionId, push: OutboundPush) => {
        hub.push(sessionId, push);
        if (push.message.type === 'queue_updated' && push.message.length > 0) this.queueChanged(sessionId, push.message.agent_id);
      },
    };
  }

  /**
   * After `joined`: every in-progress response of the session, as `agent_output_so_far`, to that one peer
   * (through the outbound road; it arrives after the join's answer). A store that cannot answer costs the
   * joiner only this (logged and counted): live chunks still come.
   */
  replayTo(sessionId: string, peerId: string, deps: GatewayDeps): void {
    // Deferred past the join's answer, which the edge writes when the handler returns (an in-process fan-out
    // delivers synchronously, and a store in memory answers at once).
    setImmediate(() => this.sendSoFar(sessionId, peerId, deps));
  }

  private sendSoFar(sessionId: string, peerId: string, deps: GatewayDeps): void {
    this.partials
      .read(sessionId)
      .then((texts) => {
        for (const t of texts) {
          const message: ServerMessage = { type: 'agent_output_so_far', session_id: sessionId, message_id: t.message_id, agent_id: t.agent_id, through_index: t.through_index, text: t.text };
          deps.push(sessionId, { to: 'peers', peer_ids: [peerId] }, message);
        }
      })
      .catch((err: unknown) => {
        this.onFailure();
        this.logger.warn(`Text so far of ${sessionId} not sent to ${peerId}: ${(err as Error).message}`, 'AgentDispatch');
      });
  }

  private queueChanged(sessionId: string, queue: string | null): void {
    const session = this.waiting.get(sessionId);
    if (!session) return;
    for (const w of session.values()) {
      const agentId = w.connection.data.identity.user_id;
      if (queue !== null && queue !== agentId) continue;
      void this.claimFor(w);
    }
  }

  private async claimFor(w: Waiting): Promise<void> {
    if (w.claiming) {
      w.again = true;
      return;
    }
    const { connection, membership, deps } = w;
    if (!connection.open || connection.data.memberships.get(membership.session_id) !== membership) {
      this.busy(membership);
      return;
    }
    w.claiming = true;
    try {
      const prompt = await deps.sessions.call('prompt.claim', { actor: connection.data.identity, session_id: membership.session_id });
      if (prompt !== null) {
        this.busy(membership);
        deps.push(membership.session_id, { to: 'peers', peer_ids: [membership.peer_id] }, { type: 'prompt_assigned', session_id: membership.session_id, prompt });
      }
    } catch (err) {
      // Not assigned (or assigned and the answer lost: the lease brings it back). The agent may still claim.
      this.onFailure();
      this.logger.warn(`Claim for waiting agent ${connection.data.identity.user_id} in ${membership.session_id} failed: ${(err as Error).message}`, 'AgentDispatch');
    } finally {
      w.claiming = false;
      if (w.again && this.waiting.get(membership.session_id)?.has(membership)) {
        w.again = false;
        void this.claimFor(w);
      }
    }
  }
}
