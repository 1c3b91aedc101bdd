import type { LoggerService } from '@nestjs/common';
import { rowsOf } from '@chorus/database';
import { parseSessionEventBody, type ActivityQuery, type ActivityView, type MessageView, type MessagesQuery, type Page, type SessionEventBody } from '@chorus/protocol';
import type { Executor } from '../sessions/session.repository';

// Read models over the session stream (no table of their own): the conversation (`GET …/messages`) and the
// agents' activity (`GET …/activity`: prompts, tools, and the coalesced `document_edited` and
// `agent_status_changed` events of activity-recorder.ts), newest first, paged backwards by seq. Each row is parsed against its
// event type like every stream read; one that does not parse is logged and skipped, never answered.

interface Row {
  seq: string;
  type: string;
  actor: string;
  payload: unknown;
  created_at: Date;
}

async function page(db: Executor, sessionId: string, where: string, params: unknown[], limit: number, beforeSeq: number | undefined): Promise<Row[]> {
  return rowsOf<Row>(
    await db.query(
      `SELECT seq, type, actor, payload, created_at FROM session_events
       WHERE session_id = $1 AND ($2::bigint IS NULL OR seq < $2) AND ${where}
       ORDER BY seq DESC LIMIT $3`,
      [sessionId, beforeSeq ?? null, limit, ...params],
    ),
  );
}

function parsed(row: Row, logger: LoggerService): SessionEventBody | undefined {
  const body = parseSessionEventBody(row.type, row.payload);
  if (body.ok) return body.value;
  logger.warn(`Unreadable session event #${row.seq} skipped in a feed: ${body.reason}`, 'Feeds');
  return undefined;
}

function next<T>(items: T[], rows: Row[], limit: number): Page<T> {
  return { items, next_before_seq: rows.length === limit ? Number(rows[rows.length - 1].seq) : null };
}

export async function messagesPage(db: Executor, sessionId: string, query: MessagesQuery, logger: LoggerService): Promise<Page<MessageView>> {
  const rows = await page(db, sessionId, `(type = 'prompt_queued' OR (type = 'agent_output' AND payload->>'kind' = 'response'))`, [], query.limit, query.before_seq);
  const items: MessageView[] = [];
  for (const row of rows) {
    const e = parsed(row, logger);
    const common = { seq: Number(row.seq), created_at: row.created_at.toISOString() };
    if (e?.type === 'prompt_queued') items.push({ ...common, message_id: e.payload.message_id, role: 'user', author: e.payload.user_id, content: e.payload.content });
    else if (e?.type === 'agent_output') items.push({ ...common, message_id: e.payload.message_id, role: 'assistant', author: e.payload.agent_id, content: e.payload.data });
  }
  return next(items, rows, query.limit);
}

export async function activityPage(db: Executor, sessionId: string, query: ActivityQuery, logger: LoggerService): Promise<Page<ActivityView>> {
  const rows = await page(
    db,
    sessionId,
    `type IN ('prompt_assigned', 'prompt_completed', 'prompt_released', 'agent_output', 'document_edited', 'agent_status_changed') AND ($4::text IS NULL OR payload->>'agent_id' = $4)
     AND (type <> 'agent_output' OR payload->>'kind' IN ('tool_start', 'tool_result', 'error'))`,
    [query.agent_id ?? null],
    query.limit,
    query.before_seq,
  );
  const items: ActivityView[] = [];
  for (const row of rows) {
    const e = parsed(row, logger);
    const common = { seq: Number(row.seq), created_at: row.created_at.toISOString() };
    switch (e?.type) {
      case 'prompt_assigned':
        items.push({ ...common, agent_id: e.payload.agent_id, kind: 'prompt_taken', message_id: e.payload.message_id, data: null });
        break;
      case 'prompt_completed':
        items.push({ ...common, agent_id: e.payload.agent_id, kind: 'prompt_finished', message_id: e.payload.message_id, data: null });
        break;
      case 'prompt_released':
        items.push({ ...common, agent_id: e.payload.agent_id, kind: 'prompt_released', message_id: e.payload.message_id, data: e.payload.parked ? `${e.payload.reason}, parked` : e.payload.reason });
        break;
      case 'agent_output':
        if (e.payload.kind !== 'response') items.push({ ...common, agent_id: e.payload.agent_id, kind: e.payload.kind, message_id: e.payload.message_id, data: e.payload.data });
        break;
      case 'document_edited': {
        const { agent_id, doc_id, from_version, to_version, ops, started_at, ended_at } = e.payload;
        items.push({ ...common, agent_id, kind: 'document_edited', doc_id, from_version, to_version, ops, started_at, ended_at, message_id: null, data: null });
        break;
      }
      case 'agent_status_changed':
        items.push({ ...common, agent_id: e.payload.agent_id, kind: 'status_changed', status: e.payload.status, detail: e.payload.detail, message_id: null, data: null });
        break;
      default:
        break;
    }
  }
  return next(items, rows, query.limit);
}
