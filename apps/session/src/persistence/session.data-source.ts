import type { AppDataSourceSpec } from '@chorus/database';
import { SessionSchema1763769600000 } from '../migrations/1763769600000-session-schema';
import { SessionPeers1764200000000 } from '../migrations/1764200000000-session-peers';
import { IdempotentAppends1764900000000 } from '../migrations/1764900000000-idempotent-appends';
import { ChatEdits1765000000000 } from '../migrations/1765000000000-chat-edits';
import { AgentsPromptQueue1765100000000 } from '../migrations/1765100000000-agents-prompt-queue';
import { SessionFileRules1765500000000 } from '../migrations/1765500000000-session-file-rules';
import { AgentActivity1765700000000 } from '../migrations/1765700000000-agent-activity';
import { SessionAdmin1765400000000 } from '../migrations/1765400000000-session-admin';
import { FileBlobCache1765600000000 } from '../migrations/1765600000000-file-blob-cache';

/**
 * The session service's tables: the single place that lists its migrations. Queries are explicit SQL in
 * the repositories (the hot paths need `RETURNING`, `unnest` and row locks), so there are no entity classes.
 */
export const SESSION_DATA_SOURCE: AppDataSourceSpec = {
  app: 'session',
  entities: [],
  migrations: [SessionSchema1763769600000, SessionPeers1764200000000, IdempotentAppends1764900000000, ChatEdits1765000000000, AgentsPromptQueue1765100000000, SessionAdmin1765400000000, SessionFileRules1765500000000, FileBlobCache1765600000000, AgentActivity1765700000000],
};
