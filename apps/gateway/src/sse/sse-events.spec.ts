import { parseLastEventId, sseFrame } from './sse-events';

const SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';
const PROMPT = '3b9d6c1e-8f2a-4d5b-9c7e-1a2b3c4d5e6f';

function parse(frame: string | null): { id?: string; event?: string; data?: unknown } {
  if (frame === null) throw new Error('no frame');
  expect(frame.endsWith('\n\n')).toBe(true);
  const out: Record<string, string> = {};
  for (const line of frame.trimEnd().split('\n')) {
    const at = line.indexOf(': ');
    out[line.slice(0, at)] = line.slice(at + 2);
  }
  return { ...(out.id !== undefined ? { id: out.id } : {}), event: out.event, data: JSON.parse(out.data) };
}

describe('sseFrame (the seed event names)', () => {
  it('names a queued prompt user_message and durable agent output by its kind, with id: <seq>', () => {
    const queued = sseFrame({
      type: 'session_event',
      session_id: SESSION,
      seq: 12,
      event_type: 'prompt_queued',
      actor: 'alice',
      payload: { message_id: PROMPT, user_id: 'alice', display_name: 'Alice', agent_id: null, content: 'hi', priority: 0, images: [] },
      created_at: '2026-11-22T10:00:00.000Z',
    });
    expect(parse(queued)).toEqual({ id: '12', event: 'user_message', data: { source_user_id: 'alice', data: expect.objectContaining({ message_id: PROMPT, content: 'hi' }) } });
    const tool = sseFrame({
      type: 'session_event',
      session_id: SESSION,
      seq: 13,
      event_type: 'agent_output',
      actor: 'agent-1',
      payload: { message_id: PROMPT, agent_id: 'agent-1', kind: 'tool_start', index: 1, data: 'grep' },
      created_at: '2026-11-22T10:00:00.000Z',
    });
    expect(parse(tool)).toMatchObject({ id: '13', event: 'tool_start', data: { source_user_id: 'agent-1' } });
  });

  it('gives ephemeral events no id, and drops what a reader does not follow', () => {
    const partial = parse(sseFrame({ type: 'agent_output', session_id: SESSION, message_id: PROMPT, agent_id: 'agent-1', kind: 'partial_response', index: 0, data: 'Hel' }));
    expect(partial).toEqual({ event: 'partial_response', data: { source_user_id: 'agent-1', data: { message_id: PROMPT, agent_id: 'agent-1', kind: 'partial_response', index: 0, data: 'Hel' } } });
    expect(parse(sseFrame({ type: 'queue_updated', session_id: SESSION, agent_id: null, revision: 3, length: 0, items: [] })).id).toBeUndefined();
    expect(sseFrame({ type: 'op', session_id: SESSION, doc_id: 'a.txt', version: 2, op: ['x'], peer_id: 'p', seq: 1 })).toBeNull();
  });

  it('maps peers to participant_joined / participant_left with their seq', () => {
    const joined = parse(sseFrame({ type: 'peer_joined', session_id: SESSION, peer_id: 'p1', user_id: 'bob', display_name: 'Bob', kind: 'human', role: 'editor', seq: 5 }));
    expect(joined).toEqual({ id: '5', event: 'participant_joined', data: { source_user_id: 'bob', data: { peer_id: 'p1', user_id: 'bob', display_name: 'Bob', kind: 'human', role: 'editor' } } });
    expect(parse(sseFrame({ type: 'peer_left', session_id: SESSION, peer_id: 'p1', user_id: 'bob', seq: 6 }))).toMatchObject({ id: '6', event: 'participant_left' });
  });

  it('reads Last-Event-ID as a seq or not at all', () => {
    expect(parseLastEventId('42')).toBe(42);
    expect(parseLastEventId(' 7 ')).toBe(7);
    expect(parseLastEventId('-1')).toBeUndefined();
    expect(parseLastEventId('4e3')).toBeUndefined();
    expect(parseLastEventId(undefined)).toBeUndefined();
  });
});
