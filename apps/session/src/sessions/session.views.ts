import type { InviteRow, ParticipantRow, SessionRow } from './session.repository';
import type { ParticipantView, Role, SessionEventView, SessionView } from '@chorus/protocol';
import type { StoredSessionEvent } from '../events/event-log';

// Row → wire shape. Secrets (password and token hashes) never leave through a view.

export function sessionView(row: SessionRow, myRole: Role | null): SessionView {
  return {
    session_id: row.id,
    name: row.name,
    owner_id: row.owner_id,
    project_path: row.project_path,
    settings: row.settings,
    is_public: row.is_public,
    has_password: row.password_hash !== null,
    max_participants: row.max_participants,
    participant_count: Number(row.participant_count),
    last_seq: Number(row.last_seq),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
    my_role: myRole,
  };
}

export function participantView(row: ParticipantRow): ParticipantView {
  return {
    user_id: row.user_id,
    display_name: row.display_name,
    kind: row.kind,
    role: row.role,
    joined_at: row.joined_at.toISOString(),
    last_active_at: row.last_active_at.toISOString(),
  };
}

export function eventView(e: StoredSessionEvent): SessionEventView {
  const { session_id: _session, ...view } = e;
  return view;
}

export type { InviteRow };
