import type { People } from './scenario';
import { Api } from './stack';

/** An agent of the edge session (added by Alice, its owner) for the edge rows that only an agent may send. */
export interface EdgeAgent {
  readonly userId: string;
  readonly token: string;
  joinToken(): Promise<string>;
  /** Alice queues a prompt for this agent (over REST). */
  queuePrompt(): Promise<void>;
}

let prompts = 0;

export async function edgeAgent(url: string, people: People, name: string): Promise<EdgeAgent> {
  const api = new Api(url);
  const base = `/api/v1/collaboration/sessions/${people.sessionId}`;
  const created = await api.request<{ agent_id: string; access_token: string }>('POST', `${base}/agents`, { token: people.alice.token, body: { name } });
  if (created.status !== 201) throw new Error(`agent create failed: ${created.status} ${created.raw}`);
  const { agent_id, access_token } = created.body;
  return {
    userId: agent_id,
    token: access_token,
    async joinToken() {
      const joined = await api.request<{ join_token: string }>('POST', `${base}/join`, { token: access_token, body: {} });
      if (joined.status !== 200) throw new Error(`agent join failed: ${joined.status} ${joined.raw}`);
      return joined.body.join_token;
    },
    async queuePrompt() {
      const n = ++prompts;
      const queued = await api.request('POST', `${base}/messages`, { token: people.alice.token, body: { content: `edge prompt for ${name} ${n}`, agent_id, client_msg_id: `edge-agent-${name}-${n}` } });
      if (queued.status !== 201) throw new Error(`prompt failed: ${queued.status} ${queued.raw}`);
    },
  };
}
