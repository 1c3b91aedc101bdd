import type { LoggerService } from '@nestjs/common';
import { authorize } from '@chorus/auth';
import type { ClientMessageOf, ClientMessageType, ReplyOf } from '@chorus/protocol';
import type { Connection, GatewayDeps, Membership } from './connection';
import { membershipOf } from './membership';

type Reply<T extends ClientMessageType> = Promise<Omit<ReplyOf<T>, 'id'>>;

/**
 * Partial output renews the agent's lease at most this often per connection: the chunks come many a second,
 * a lease lasts tens of seconds (AGENT_LEASE_MS), and each renewal is a round trip to the session service.
 */
const RENEW_EVERY_MS = 2_000;

/** The prompt queue (users) and the agent side of it: claim, status, output, done. docs/agents.md. */
export class AgentMessageHandlers {
  private readonly renewedAt = new WeakMap<Membership, number>();

  constructor(private readonly logger: LoggerService) {}

  async promptSubmit(socket: Connection, m: ClientMessageOf<'prompt_submit'>, deps: GatewayDeps): Reply<'prompt_submit'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'agent.prompt');
    const { type: _t, id: _i, session_id, ...body } = m;
    const queued = await deps.sessions.call('prompt.submit', { actor: socket.data.identity, session_id, body });
    return { type: 'prompt_queued', ...queued };
  }

  async promptCancel(socket: Connection, m: ClientMessageOf<'prompt_cancel'>, deps: GatewayDeps): Reply<'prompt_cancel'> {
    membershipOf(socket, m.session_id);
    await deps.sessions.call('prompt.cancel', { actor: socket.data.identity, session_id: m.session_id, message_id: m.message_id });
    return { type: 'prompt_cancelled', session_id: m.session_id, message_id: m.message_id };
  }

  async promptClaim(socket: Connection, m: ClientMessageOf<'prompt_claim'>, deps: GatewayDeps): Reply<'prompt_claim'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'agent.work');
    const prompt = await deps.sessions.call('prompt.claim', { actor: socket.data.identity, session_id: m.session_id });
    if (prompt !== null) this.renewedAt.set(membership, Date.now());
    // Nothing to do and asked to wait: it is pushed `prompt_assigned` when its queues get work.
    // Otherwise it no longer waits (a claim without `wait` is an agent that polls).
    if (prompt === null && m.wait === true) deps.agents.wait(socket, membership, deps);
    else deps.agents.busy(membership);
    return { type: 'prompt_claimed', session_id: m.session_id, prompt };
  }

  async promptDone(socket: Connection, m: ClientMessageOf<'prompt_done'>, deps: GatewayDeps): Reply<'prompt_done'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'agent.work');
    const { seq } = await deps.sessions.call('prompt.done', { actor: socket.data.identity, session_id: m.session_id, message_id: m.message_id });
    // The response is complete (and durable): joiners no longer need its text so far.
    deps.agents.partials.clear(m.session_id, m.message_id).catch((err: unknown) => {
      deps.metrics.agentDispatchFailures.inc();
      this.logger.warn(`Text so far of ${m.message_id} not cleared (it expires): ${(err as Error).message}`, 'AgentMessageHandlers');
    });
    return { type: 'prompt_completed', session_id: m.session_id, message_id: m.message_id, seq };
  }

  /**
   * What the agent is doing, to everyone (ephemeral); a sign of life that renews its lease. The session service
   * records a transition for the activity feed first (durable before the push; coalesced there) and renews in
   * the same call. Not recorded (the session service unreachable): logged and counted, the status still goes out.
   */
  async agentStatus(socket: Connection, m: ClientMessageOf<'agent_status'>, deps: GatewayDeps): Reply<'agent_status'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'agent.work');
    const status = { type: 'agent_status' as const, session_id: m.session_id, agent_id: socket.data.identity.user_id, status: m.status, detail: m.detail ?? null };
    this.renewedAt.set(membership, Date.now());
    try {
      await deps.sessions.call('agent.status', { actor: socket.data.identity, session_id: m.session_id, status: m.status, detail: status.detail });
    } catch (err) {
      deps.metrics.agentActivityFailures.inc({ kind: 'status' });
      deps.metrics.agentLeaseRenewFailures.inc();
      this.logger.warn(`Status of ${status.agent_id} in ${m.session_id} not recorded (nor its lease renewed): ${(err as Error).message}`, 'AgentMessageHandlers');
    }
    deps.push(m.session_id, { to: 'session' }, status, membership.peer_id);
    return status;
  }

  /**
   * Partial output is pushed to everyone and not stored; the durable kinds (tool calls, results, the
   * response, an error) are stored by the session service first, then reach everyone as session events.
   */
  async agentOutput(socket: Connection, m: ClientMessageOf<'agent_output'>, deps: GatewayDeps): Reply<'agent_output'> {
    const membership = membershipOf(socket, m.session_id);
    authorize(membership.role, 'agent.work');
    const agentId = socket.data.identity.user_id;
    if (m.kind === 'partial_response') {
      deps.push(m.session_id, { to: 'session' }, { type: 'agent_output', session_id: m.session_id, message_id: m.message_id, agent_id: agentId, kind: 'partial_response', index: m.index, data: m.data }, membership.peer_id);
      // Kept for joiners (not awaited: the live push does not wait for it; joiners merge by index).
      deps.agents.partials.append(m.session_id, { message_id: m.message_id, agent_id: agentId, index: m.index, data: m.data }).catch((err: unknown) => {
        deps.metrics.agentDispatchFailures.inc();
        this.logger.warn(`Partial chunk ${m.message_id}#${m.index} not kept for joiners: ${(err as Error).message}`, 'AgentMessageHandlers');
      });
      await this.renew(socket, membership, deps);
      return { type: 'agent_output_ack', session_id: m.session_id, message_id: m.message_id, index: m.index, seq: null };
    }
    const { seq } = await deps.sessions.call('agent.output', {
      actor: socket.data.identity,
      session_id: m.session_id,
      body: { message_id: m.message_id, kind: m.kind, index: m.index, data: m.data },
    });
    this.renewedAt.set(membership, Date.now());
    return { type: 'agent_output_ack', session_id: m.session_id, message_id: m.message_id, index: m.index, seq };
  }

  private async renew(socket: Connection, membership: Membership, deps: GatewayDeps): Promise<void> {
    const last = this.renewedAt.get(membership) ?? 0;
    if (Date.now() - last < RENEW_EVERY_MS) return;
    this.renewedAt.set(membership, Date.now());
    try {
      await deps.sessions.call('prompt.renew', { actor: socket.data.identity, session_id: membership.session_id });
    } catch (err) {
      // The report itself went out; a lease not renewed now is renewed by the next report, or lapses (the
      // prompt goes back: the queue's guarantee does not depend on this call).
      deps.metrics.agentLeaseRenewFailures.inc();
      this.logger.warn(`Lease renewal for ${socket.data.identity.user_id} in ${membership.session_id} failed: ${(err as Error).message}`, 'AgentMessageHandlers');
    }
  }
}
