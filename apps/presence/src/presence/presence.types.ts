import type { PresencePatch as ClientPresencePatch } from '@chorus/contracts';
import type { DerivedStatus, ParticipantKind, PresenceStatus as ClientPresenceStatus, PresenceView, Selection } from '@chorus/protocol';

/**
 * The presence model. Presence is ephemeral, leased state: it lives in Redis (or memory), never in Postgres.
 * Field names are the wire's snake_case so that a state maps 1:1 onto the server `presence_update` message.
 */

// The wire's own types (libs/protocol), so that a stored state maps 1:1 onto the messages without a copy of them.
export type PresenceKind = ParticipantKind;

/** Derived status, see {@link deriveStatus}. */
export type PresenceStatus = DerivedStatus;

/**
 * What a client may state explicitly. `idle` is never sent by a client: the server derives it from activity.
 * The store keeps this explicit choice in `PresenceState.status` ('online' or 'away'); views derive the rest.
 */
export type ExplicitStatus = ClientPresenceStatus;

/** A selection in a document, in code points (the OT unit). anchor === head is a caret. */
export type { Selection };

/** A typing indicator: who types in which document, until when (ms epoch) unless refreshed. */
export interface TypingState {
  doc_id: string | null;
  until: number;
}

/** Addresses one peer of one session (a peer is one connection: a tab, an agent process). */
export interface PeerRef {
  session_id: string;
  peer_id: string;
}

/** The full stored presence of one peer in one session. All timestamps are ms since the Unix epoch. */
export interface PresenceState extends PeerRef {
  user_id: string;
  display_name: string;
  /** Agents appear in presence exactly like people, marked `agent`. */
  kind: PresenceKind;
  /** The gateway node holding the connection: its heartbeats keep this lease alive. */
  node_id: string;
  /**
   * As stored: the client's explicit choice, 'online' or 'away' ('idle' is never stored). Views replace it
   * with {@link deriveStatus}.
   */
  status: PresenceStatus;
  active_file: string | null;
  doc_id: string | null;
  selection: Selection | null;
  typing: TypingState | null;
  last_active_at: number;
  updated_at: number;
  /** After this instant the peer is gone: it is no longer listed, and a sweep claims it (exactly once). */
  lease_expires_at: number;
  /**
   * Store-wide monotonic stamp, renewed by every write of `selection` or `doc_id` (join, update, transform).
   * A selection transform writes only if it is unchanged since its read: see PresenceStore.transformSelections.
   */
  selection_version: number;
}

/**
 * A partial update of a stored state: what a client may patch (the contract's PresencePatch) plus what the
 * service itself maintains. Absent keys are left alone; `null` clears a field. The store never touches identity
 * (session_id, peer_id, user_id, kind, node_id): those change only through `join`.
 */
export interface PresencePatch extends ClientPresencePatch {
  typing?: TypingState | null;
  last_active_at?: number;
  display_name?: string;
}

/** What a `join` stores; the store fills in updated_at, lease_expires_at and selection_version. */
export type PresenceJoin = Omit<PresenceState, 'updated_at' | 'lease_expires_at' | 'selection_version'>;

/** The public, broadcastable view of a peer's presence: the server `presence_update` body, minus `type`. */
export type { PresenceView };

/**
 * The status rule. An explicit 'away' from the client wins; otherwise the peer is 'online' while its last
 * activity is less than `idleAfterMs` old, and 'idle' after that. Activity is what the person or agent does
 * (join, a presence_update that moves, typing), never a heartbeat: heartbeats prove the connection, not a human.
 */
export function deriveStatus(state: Pick<PresenceState, 'status' | 'last_active_at'>, now: number, idleAfterMs: number): PresenceStatus {
  if (state.status === 'away') return 'away';
  return now - state.last_active_at < idleAfterMs ? 'online' : 'idle';
}

export function toView(state: PresenceState, now: number, idleAfterMs: number): PresenceView {
  return {
    session_id: state.session_id,
    peer_id: state.peer_id,
    user_id: state.user_id,
    display_name: state.display_name,
    kind: state.kind,
    status: deriveStatus(state, now, idleAfterMs),
    active_file: state.active_file,
    doc_id: state.doc_id,
    selection: state.selection === null ? null : { anchor: state.selection.anchor, head: state.selection.head },
    typing: state.typing === null ? null : { doc_id: state.typing.doc_id },
    last_active_at: state.last_active_at,
  };
}

/** A source of time (ms since the epoch). Injected everywhere so tests control time instead of sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
