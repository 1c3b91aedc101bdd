import { parseServerMessageStrict, type ClientMessageOf, type ServerMessageOf, type ServerMessageType } from '@chorus/protocol';
import type {
  CommittedOp,
  ConflictDetected,
  DocumentState,
  FileLocked,
  FileUnlocked,
  HistoryPage,
  OpAck,
  OpsPage,
  PresenceEvent,
  PresencePatch,
} from './index';

// The contract types are the protocol's messages, not copies of them. Half of this spec is checked by the
// compiler (`npm test` type-checks specs first): each contract shape must be exactly its message's body, so a
// re-declared shape that drifts — FileUnlocked once lacked the `not_locked` reason the gateway sends — fails
// the build. The other half sends contract values through the protocol's own strict server-message parser.

/** True when A and B are assignable both ways (the same shape, as far as values go). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compiles only for `true`. */
const same = <T extends true>(): T | undefined => undefined;

/** A server message's body as a service hands it over: no envelope, no `session_id` the gateway adds. */
type Body<T extends ServerMessageType, Also extends string = never> = Omit<ServerMessageOf<T>, 'type' | 'id' | Also>;

same<Same<DocumentState, Body<'document', 'session_id'>>>();
same<Same<OpAck, Body<'op_ack', 'session_id'>>>();
same<Same<CommittedOp, Body<'op', 'session_id'>>>();
same<Same<ConflictDetected, Body<'conflict_detected', 'session_id'>>>();
same<Same<OpsPage, Body<'ops', 'session_id'>>>();
same<Same<HistoryPage, Body<'history', 'session_id'>>>();
same<Same<FileLocked, Body<'file_locked'>>>();
same<Same<FileUnlocked, Body<'file_unlocked'>>>();
same<Same<FileUnlocked['reason'], 'released' | 'broken' | 'expired' | 'not_locked'>>();
same<Same<PresencePatch, Omit<ClientMessageOf<'presence_update'>, 'type' | 'id' | 'session_id'>>>();
same<Same<Extract<PresenceEvent, { type: 'presence_update' }>, Omit<ServerMessageOf<'presence_update'>, 'id'>>>();
same<Same<Extract<PresenceEvent, { type: 'typing_start' }>, Omit<ServerMessageOf<'typing_start'>, 'id'>>>();
same<Same<Extract<PresenceEvent, { type: 'typing_stop' }>, Omit<ServerMessageOf<'typing_stop'>, 'id'>>>();
// A presence_left from the service is a wire presence_left as it is (no field to add on the way).
same<Same<Extract<PresenceEvent, { type: 'presence_left' }> extends ServerMessageOf<'presence_left'> ? true : false, true>>();

const SESSION = '7f1c8a2e-4b6d-4c3a-9e21-5d8f0a1b2c3d';

describe('contract values are valid protocol messages', () => {
  it('sends what the conflict service returns, wrapped by the gateway, through the strict server parser', () => {
    const unlocked: FileUnlocked = { session_id: SESSION, doc_id: 'src/a.ts', holder_id: null, reason: 'not_locked' };
    const broken: FileUnlocked = { session_id: SESSION, doc_id: 'src/a.ts', holder_id: 'alice', reason: 'broken', by: 'bob' };
    const locked: FileLocked = { session_id: SESSION, doc_id: 'src/a.ts', holder_id: 'alice', peer_id: 'alice-tab', expires_at: '2026-12-01T20:00:00.000Z' };
    const state: DocumentState = { doc_id: 'src/a.ts', version: 3, content: 'abc', lock: { holder_id: 'alice', peer_id: 'alice-tab', expires_at: '2026-12-01T20:00:00.000Z' } };
    const op: CommittedOp = { doc_id: 'src/a.ts', version: 4, op: [3, 'd', { d: 'ab' }], peer_id: 'alice-tab', seq: 9 };
    const conflict: ConflictDetected = { doc_id: 'src/a.ts', version: 4, base_version: 2, peer_id: 'alice-tab', user_id: 'alice', overlaps: [{ version: 3, peer_id: 'bob-tab', user_id: 'bob', ranges: [{ start: 1, end: 2 }] }], peers: ['alice-tab', 'bob-tab'] };
    const messages: unknown[] = [
      { type: 'file_unlocked', ...unlocked },
      { type: 'file_unlocked', ...broken },
      { type: 'file_locked', ...locked },
      { type: 'document', session_id: SESSION, ...state },
      { type: 'op', session_id: SESSION, ...op },
      { type: 'conflict_detected', session_id: SESSION, ...conflict },
    ];
    for (const m of messages) expect({ m, parsed: parseServerMessageStrict(m).ok }).toEqual({ m, parsed: true });
  });

  it('sends the presence events a gateway forwards through the strict server parser unchanged', () => {
    const events: PresenceEvent[] = [
      { type: 'presence_left', session_id: SESSION, peer_id: 'bob-tab', user_id: 'bob', reason: 'left' },
      { type: 'typing_start', session_id: SESSION, peer_id: 'bob-tab', user_id: 'bob', doc_id: 'src/a.ts' },
      { type: 'typing_stop', session_id: SESSION, peer_id: 'bob-tab', user_id: 'bob', doc_id: null },
      {
        type: 'presence_update',
        session_id: SESSION,
        peer_id: 'bob-tab',
        user_id: 'bob',
        display_name: 'Bob',
        kind: 'human',
        status: 'idle',
        active_file: null,
        doc_id: null,
        selection: { anchor: 1, head: 2 },
        typing: null,
        last_active_at: 1_795_312_800_000,
      },
    ];
    for (const e of events) expect({ e, parsed: parseServerMessageStrict(e).ok }).toEqual({ e, parsed: true });
  });
});
