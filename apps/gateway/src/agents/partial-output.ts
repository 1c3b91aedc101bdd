/**
 * The text so far of agents' in-progress responses, for whoever joins a session mid-stream
 * (`agent_output_so_far`, docs/agents.md). Ephemeral by design: partial output is never durable; this keeps one
 * running text per prompt, not the chunks.
 *
 * Contract (both implementations, apps/gateway/src/agents/partial-output.contract.ts):
 * - `append` keeps a chunk only if its index is above the last kept one for that prompt (a resend or a late
 *   chunk adds nothing); a chunk from another agent than the one kept (the prompt was given back and taken
 *   over) starts the text over. A text stops growing at `MAX_PARTIAL_CHARS` (the index still advances, so
 *   live chunks are not shown twice either).
 * - `read` answers every kept prompt of the session; entries expire `PARTIAL_TTL_MS` after their last chunk.
 * - `clear` forgets a prompt (its agent finished it).
 * Atomic per chunk: gateways of one cluster share one store (Redis), so a joiner on any gateway gets the same.
 */
export interface PartialOutputStore {
  append(sessionId: string, chunk: PartialChunk): Promise<void>;
  read(sessionId: string): Promise<PartialText[]>;
  clear(sessionId: string, messageId: string): Promise<void>;
}

export interface PartialChunk {
  readonly message_id: string;
  readonly agent_id: string;
  readonly index: number;
  readonly data: string;
}

export interface PartialText {
  readonly message_id: string;
  readonly agent_id: string;
  readonly through_index: number;
  readonly text: string;
}

/** A response's text beyond this is not kept for joiners (they still get every live chunk after joining). */
export const MAX_PARTIAL_CHARS = 200_000;
/** An in-progress response nobody added to for this long is forgotten (its agent died; the prompt went back). */
export const PARTIAL_TTL_MS = 15 * 60_000;

/** Standalone (one process): the same contract in memory. */
export class MemoryPartialOutputStore implements PartialOutputStore {
  private readonly sessions = new Map<string, Map<string, PartialText & { touched: number }>>();

  constructor(private readonly clock: { now(): number } = Date) {}

  async append(sessionId: string, chunk: PartialChunk): Promise<void> {
    let prompts = this.sessions.get(sessionId);
    if (!prompts) this.sessions.set(sessionId, (prompts = new Map()));
    const kept = this.live(prompts.get(chunk.message_id));
    const now = this.clock.now();
    if (!kept || kept.agent_id !== chunk.agent_id) {
      prompts.set(chunk.message_id, { message_id: chunk.message_id, agent_id: chunk.agent_id, through_index: chunk.index, text: chunk.data.slice(0, MAX_PARTIAL_CHARS), touched: now });
      return;
    }
    if (chunk.index <= kept.through_index) return;
    const text = kept.text.length >= MAX_PARTIAL_CHARS ? kept.text : (kept.text + chunk.data).slice(0, MAX_PARTIAL_CHARS);
    prompts.set(chunk.message_id, { ...kept, through_index: chunk.index, text, touched: now });
  }

  async read(sessionId: string): Promise<PartialText[]> {
    const prompts = this.sessions.get(sessionId);
    if (!prompts) return [];
    const out: PartialText[] = [];
    for (const [id, p] of prompts) {
      if (this.live(p)) out.push({ message_id: p.message_id, agent_id: p.agent_id, through_index: p.through_index, text: p.text });
      else prompts.delete(id);
    }
    if (prompts.size === 0) this.sessions.delete(sessionId);
    return out;
  }

  async clear(sessionId: string, messageId: string): Promise<void> {
    const prompts = this.sessions.get(sessionId);
    prompts?.delete(messageId);
    if (prompts?.size === 0) this.sessions.delete(sessionId);
  }

  private live<T extends { touched: number }>(p: T | undefined): T | undefined {
    return p !== undefined && this.clock.now() - p.touched < PARTIAL_TTL_MS ? p : undefined;
  }
}
