import { ChorusError, type Role } from '@chorus/protocol';

/**
 * Every action a participant can take in a session. The matrix below is the one place that says who may do
 * what; REST handlers, WebSocket handlers and the services all ask `authorize()`. docs/authorization.md is
 * generated from the same table (and a test keeps it in sync).
 */
export const ACTIONS = [
  'session.read',
  'session.update',
  'session.delete',
  'invite.create',
  'invite.revoke',
  'participant.list',
  'participant.update_role',
  'participant.remove',
  'history.read',
  'chat.send',
  'chat.delete_any',
  'presence.update',
  'document.read',
  'document.edit',
  'file.lock',
  'file.lock_break',
  'agent.prompt',
  'agent.manage',
  'agent.work',
  'prompt.cancel_any',
  'prompt.reorder',
  'channel.subscribe',
  'channel.publish',
  'channel.publish_ai_response',
  'voice.join',
  'files.host',
  'files.receive',
  'file_rules.manage',
  'conflict.resolve',
  'audit.read',
] as const;
export type Action = (typeof ACTIONS)[number];

const EVERYONE: Role[] = ['owner', 'admin', 'editor', 'viewer', 'agent'];
const WRITERS: Role[] = ['owner', 'admin', 'editor', 'agent'];
const MANAGERS: Role[] = ['owner', 'admin'];

export const POLICY: Record<Action, readonly Role[]> = {
  'session.read': EVERYONE,
  'session.update': MANAGERS,
  'session.delete': ['owner'],
  'invite.create': MANAGERS,
  'invite.revoke': MANAGERS,
  'participant.list': EVERYONE,
  'participant.update_role': MANAGERS,
  'participant.remove': MANAGERS,
  'history.read': EVERYONE,
  'chat.send': EVERYONE,
  /** Deleting another participant's chat message (moderation). Anyone may edit and delete their own (`chat.send`). */
  'chat.delete_any': MANAGERS,
  'presence.update': EVERYONE,
  'document.read': EVERYONE,
  'document.edit': WRITERS,
  'file.lock': WRITERS,
  'file.lock_break': MANAGERS,
  'agent.prompt': ['owner', 'admin', 'editor'],
  // Add, list and revoke agents (their credentials).
  'agent.manage': MANAGERS,
  // Claim prompts, report status and output, complete prompts: agents only.
  'agent.work': ['agent'],
  'prompt.cancel_any': MANAGERS,
  'prompt.reorder': MANAGERS,
  // Subscribing grants nothing beyond receiving a session's channel events, which every participant may see.
  'channel.subscribe': EVERYONE,
  'channel.publish': WRITERS,
  // An agent's streamed answer is the agent's alone: a person publishing into it would put words in its mouth.
  'channel.publish_ai_response': ['agent'],
  /** Voice rooms and signaling: every participant (a viewer may listen and talk; agents too, e.g. a voice bot). */
  'voice.join': EVERYONE,
  /** Sharing one's project files (docs/file-sync.md): participants with edit rights. */
  'files.host': WRITERS,
  /** Asking a host for its manifest and files: every participant (viewers receive, they do not host). */
  'files.receive': EVERYONE,
  /** Set the session's per-file path rules (docs/files.md); every document action is then checked against them. */
  'file_rules.manage': MANAGERS,
  /** Resolve a recorded conflict: an edit of the document, so the path rules for editing apply as well. */
  'conflict.resolve': WRITERS,
  /** The audit export (every session event, refusals included): owners and admins, also after deletion. */
  'audit.read': MANAGERS,
};

/** The action that publishing to `channel` needs (built-in or custom `x-` channel). */
export function channelPublishAction(channel: string): Action {
  return channel === 'ai-response' ? 'channel.publish_ai_response' : 'channel.publish';
}

/** Per channel: which roles may subscribe and publish, as Markdown rows for docs/authorization.md. */
export function channelPolicyTable(channels: readonly string[]): string {
  const header = `| channel | subscribe | publish |\n| --- | --- | --- |`;
  const rows = channels.map((c) => `| \`${c}\` | ${POLICY['channel.subscribe'].join(', ')} | ${POLICY[channelPublishAction(c)].join(', ')} |`);
  return [header, ...rows].join('\n');
}

export function can(role: Role, action: Action): boolean {
  return POLICY[action].includes(role);
}

/** Throws PERMISSION_DENIED unless `role` may perform `action`. */
export function authorize(role: Role | undefined, action: Action): void {
  if (role === undefined) throw new ChorusError('PERMISSION_DENIED', `You are not a participant of this session (needed for ${action}).`);
  if (!can(role, action)) throw new ChorusError('PERMISSION_DENIED', `Role "${role}" may not ${action.replace('.', ' ')}; ask a session owner or admin.`);
}

/** Rank for "may grant / may manage": a participant can only grant or change roles strictly below its own. */
const RANK: Record<Role, number> = { owner: 4, admin: 3, editor: 2, agent: 2, viewer: 1 };

export function mayManage(actor: Role, target: Role): boolean {
  return actor === 'owner' || RANK[actor] > RANK[target];
}

/** Throws PERMISSION_DENIED unless `actor` may grant (or move someone to) `role`. Nobody grants "owner". */
export function authorizeGrant(actor: Role, role: Role): void {
  if (role === 'owner') throw new ChorusError('PERMISSION_DENIED', 'The owner role cannot be granted; a session has exactly one owner.');
  if (!mayManage(actor, role)) throw new ChorusError('PERMISSION_DENIED', `Role "${actor}" may not grant "${role}".`);
}

/** The matrix as Markdown rows, for docs/authorization.md. */
export function policyTable(): string {
  const header = `| action | ${EVERYONE.join(' | ')} |\n| --- | ${EVERYONE.map(() => '---').join(' | ')} |`;
  const rows = ACTIONS.map((a) => `| \`${a}\` | ${EVERYONE.map((r) => (can(r, a) ? 'yes' : '—')).join(' | ')} |`);
  return [header, ...rows].join('\n');
}
