import type { DataSource } from 'typeorm';
import {
  ChorusError,
  refusalForMembers,
  type CreateInviteBody,
  type CreateSessionBody,
  type HistoryPage,
  type HistoryQuery,
  type InviteCreated,
  type JoinGrantView,
  type ParticipantView,
  type Role,
  type SessionView,
} from '@chorus/protocol';
import {
  authorize,
  authorizeGrant,
  hashPassword,
  hashToken,
  inviteCodePattern,
  mayManage,
  newInviteCode,
  newSecretToken,
  verifyPassword,
  type Action,
  type Identity,
  type IdentityTokens,
} from '@chorus/auth';
import type { MembershipChange, SessionEventOf } from '@chorus/contracts';
import type { JoinGrant } from '@chorus/auth';
import type { EntityManager } from 'typeorm';
import { dedupeKeys, eventOfType, type NewSessionEvent, type SessionEventLog, type StoredSessionEvent } from '../events/event-log';
import { inviteTokenFor } from './invite-idempotency';
import type { SessionEventPublisher } from '../events/event-publisher';
import { invitesRepo, participantsRepo, peersRepo, sessionsRepo, type Executor, type SessionRow } from './session.repository';
import { eventView, participantView, sessionView } from './session.views';
import { chatSeqsOf, foldChatThreads, withChatState, type ChatState } from './chat-threads';
import { Logger } from '@nestjs/common';
import { AuditTrail } from './audit-trail';
import { mustFindTemplate, sessionAdminRepo } from './session-admin.repository';

export interface SessionServiceOptions {
  /** Lifetime of a join token: short, it is exchanged for a socket membership at once. */
  readonly joinTokenTtlS: number;
  /** Base of invite links, e.g. https://chorus.example.com. */
  readonly publicUrl: string;
  /** Default invite lifetime when the request gives none. */
  readonly defaultInviteTtlS: number;
  /**
   * Server secret from which the token of an invite created by a transport request is derived (HMAC of the
   * request id), so that a redelivery answers with the same token. Without it tokens are random and a
   * redelivered `invite.create` creates a second invite.
   */
  readonly inviteTokenSecret?: string;
  /** Per-user caps on session creation (docs/session-admin.md); absent: no caps. */
  readonly caps?: { readonly createdPerDay: number; readonly openPerUser: number };
  /** Tests only: runs right after a new chat message committed, before its publish and reply. */
  readonly afterChatCommit?: (event: SessionEventOf<'chat_message'>) => void;
}

/**
 * Sessions, participants, invites and join tokens. Every action is authorized against the role matrix in
 * libs/auth; every durable change appends to the session stream in the same transaction.
 */
export class SessionService {
  private readonly audit: AuditTrail;

  constructor(
    private readonly db: DataSource,
    private readonly events: SessionEventLog,
    private readonly tokens: IdentityTokens,
    private readonly options: SessionServiceOptions,
    private readonly publisher: SessionEventPublisher,
    audit?: AuditTrail,
  ) {
    this.audit = audit ?? new AuditTrail(events, publisher, new Logger('SessionService'));
  }

  /**
   * Runs `work` in a transaction with an `append` that adds durable events to the session stream; the events
   * are published to live connections only after the transaction committed.
   */
  private async withEvents<T>(work: (tx: EntityManager, append: (sessionId: string, events: NewSessionEvent[]) => Promise<StoredSessionEvent[]>) => Promise<T>): Promise<T> {
    const appended: StoredSessionEvent[] = [];
    const result = await this.db.transaction((tx) =>
      work(tx, async (sessionId, events) => {
        const stored = await this.events.appendInTransaction(tx, sessionId, events);
        appended.push(...stored);
        return stored;
      }),
    );
    await this.publisher.publish(appended);
    return result;
  }

  // ---- live connections ----

  /**
   * A socket joins with a join token: membership is checked against the database now (the token may be stale).
   * The peer id is claimed for the user (session_peers): presence entries, the op dedupe identity and the
   * peer's ack room are all keyed by it, so a peer id another user holds is refused before anything joins.
   * The same user may join with its own peer id again (reconnect, a rejoin after a crash).
   */
  async connect(grant: JoinGrant, peerId: string, requestId?: string): Promise<{ role: Role; event: SessionEventOf<'peer_joined'>; participants: ParticipantView[] }> {
    outOfScope(grant, grant.session_id);
    return this.withEvents(async (tx, append) => {
      const me = await participantsRepo.find(tx, grant.session_id, grant.user_id);
      if (!me) throw new ChorusError('PERMISSION_DENIED', 'You are not a participant of this session (any more). Redeem a new invite.');
      const owner = await peersRepo.claim(tx, grant.session_id, peerId, grant.user_id);
      // Undefined only if the holder's row vanished between the two statements: the session is being purged.
      if (owner === undefined) throw notFound(grant.session_id);
      if (owner !== grant.user_id) {
        throw new ChorusError('PERMISSION_DENIED', `The peer_id "${peerId}" belongs to another participant of this session. Pick another peer_id (one per tab or device, e.g. a random one) and join again.`, {
          field: 'peer_id',
        });
      }
      await participantsRepo.touch(tx, grant.session_id, grant.user_id);
      const [joined] = await append(grant.session_id, [
        {
          type: 'peer_joined',
          actor: grant.user_id,
          payload: { peer_id: peerId, user_id: grant.user_id, display_name: grant.display_name, kind: grant.kind, role: me.role },
          // A redelivered connect (its first delivery committed, then the replica stalled or died) gets the
          // first one's event back: one peer_joined per transport request.
          ...requestKey(requestId),
        },
      ]);
      const participants = (await participantsRepo.list(tx, grant.session_id)).map(participantView);
      return { role: me.role, event: eventOfType('peer_joined', joined), participants };
    });
  }

  /** A socket left, disconnected, or its presence lease expired. Null when the session is gone. */
  async disconnect(
    sessionId: string,
    userId: string,
    peerId: string,
    reason: 'left' | 'disconnected' | 'expired',
    keys: { requestId?: string; expiryKey?: string } = {},
  ): Promise<SessionEventOf<'peer_left'> | null> {
    // A lease expiry is retried by presence (new transport requests) until it is recorded: its own key, not the
    // request's, makes those retries append one peer_left.
    const dedupe = keys.expiryKey !== undefined ? { dedupe_key: dedupeKeys.expiry(keys.expiryKey) } : requestKey(keys.requestId);
    try {
      const event = eventOfType('peer_left', await this.events.append(sessionId, { type: 'peer_left', actor: userId, payload: { peer_id: peerId, user_id: userId, reason }, ...dedupe }));
      await this.publisher.publish([event]);
      return event;
    } catch (err) {
      if (err instanceof ChorusError && err.code === 'NOT_FOUND') return null;
      throw err;
    }
  }

  /**
   * A chat message: stored in the session stream (group-committed), then fanned out to everyone but its sender.
   * Deduplicated per sending user: a resend with the same `client_msg_id` (after UNAVAILABLE, or a reconnect
   * with another peer id) gets the stored message back — same seq, same text — and appends nothing. Per user,
   * not per peer: the key is the client's promise that this is the same message whichever tab or connection
   * resends it, and a user's own keys cannot collide with another user's. Without a client key the transport
   * request id dedupes redeliveries of one request.
   */
  async chat(sessionId: string, user: Identity, peerId: string, message: string, keys: { clientMsgId?: string; requestId?: string } = {}): Promise<SessionEventOf<'chat_message'>> {
    const role = (await participantsRepo.find(this.db, sessionId, user.user_id))?.role;
    authorize(role, 'chat.send');
    const payload = { peer_id: peerId, user_id: user.user_id, display_name: user.display_name, message, ...(keys.clientMsgId !== undefined ? { client_msg_id: keys.clientMsgId } : {}) };
    const dedupe = keys.clientMsgId !== undefined ? { dedupe_key: dedupeKeys.chat(user.user_id, keys.clientMsgId) } : requestKey(keys.requestId);
    const appended = await this.events.appendOnce(sessionId, { type: 'chat_message', actor: user.user_id, payload, ...dedupe });
    const event = eventOfType('chat_message', appended.event);
    const replayed = appended.replayed;
    if (!replayed) this.options.afterChatCommit?.(event);
    // Published again on a replay too: the first delivery may have died between its commit and its publish;
    // live connections drop a seq they already have.
    await this.publisher.publish([event]);
    return event;
  }

  /**
   * Replaces the text of a chat message: its author only, never once deleted. Appends `message_update` (the
   * original stays in the stream: the audit trail). Decided under the session row lock, so an edit and a
   * deletion racing on two replicas are ordered. Idempotent: a resend of the latest edit's text gets that edit
   * back (same seq) and appends nothing; a transport redelivery is deduplicated by its request id.
   */
  async editChat(sessionId: string, user: Identity, peerId: string, seq: number, message: string, requestId?: string): Promise<SessionEventOf<'message_update'>> {
    return this.withEvents(async (tx, append) => {
      authorize((await participantsRepo.find(tx, sessionId, user.user_id))?.role, 'chat.send');
      const state = await this.chatStateLocked(tx, sessionId, seq);
      if (state.message.payload.user_id !== user.user_id) throw new ChorusError('PERMISSION_DENIED', 'Only its author may edit a chat message.', { field: 'seq' });
      if (state.deleted !== undefined) throw new ChorusError('NOT_FOUND', `Chat message ${seq} was deleted; it cannot be edited.`, { field: 'seq' });
      if (state.lastEdit !== undefined && state.text === message) return state.lastEdit;
      const [event] = await append(sessionId, [
        { type: 'message_update', actor: user.user_id, payload: { message_seq: seq, peer_id: peerId, user_id: user.user_id, message }, ...requestKey(requestId) },
      ]);
      return eventOfType('message_update', event);
    });
  }

  /**
   * Deletes a chat message: its author, or an owner or admin (`chat.delete_any`). Appends `message_delete`;
   * deleting a deleted message answers the first deletion (same seq) and appends nothing.
   */
  async deleteChat(sessionId: string, user: Identity, seq: number): Promise<SessionEventOf<'message_delete'>> {
    return this.withEvents(async (tx, append) => {
      const role = (await participantsRepo.find(tx, sessionId, user.user_id))?.role;
      authorize(role, 'chat.send');
      const state = await this.chatStateLocked(tx, sessionId, seq);
      const author = state.message.payload.user_id;
      if (author !== user.user_id) authorize(role, 'chat.delete_any');
      if (state.deleted !== undefined) return state.deleted;
      const [event] = await append(sessionId, [
        { type: 'message_delete', actor: user.user_id, payload: { message_seq: seq, user_id: author, deleted_by: user.user_id }, dedupe_key: dedupeKeys.chatDelete(seq) },
      ]);
      return eventOfType('message_delete', event);
    });
  }

  /** The chat message at `seq` as it is now, read under the session row lock (the lock appends take too). */
  private async chatStateLocked(tx: EntityManager, sessionId: string, seq: number): Promise<ChatState> {
    const locked = (await tx.query(`SELECT id FROM sessions WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE`, [sessionId])) as unknown[];
    if (locked.length === 0) throw notFound(sessionId);
    const state = foldChatThreads(await this.events.chatThreads(tx, sessionId, [seq])).get(seq);
    if (state === undefined) throw new ChorusError('NOT_FOUND', `There is no chat message at seq ${seq} in this session.`, { field: 'seq' });
    return state;
  }

  /** Durable events after `afterSeq` (replay for a reconnecting client), and the stream head. */
  async streamEvents(sessionId: string, userId: string, afterSeq: number, limit: number): Promise<{ events: StoredSessionEvent[]; head: number }> {
    const session = await this.mustFind(this.db, sessionId);
    if (!(await participantsRepo.find(this.db, sessionId, userId))) throw new ChorusError('PERMISSION_DENIED', 'You are not a participant of this session.');
    return { events: await this.events.read(sessionId, afterSeq, limit), head: Number(session.last_seq) };
  }

  /**
   * Creates a session owned by the caller, optionally from one of the caller's templates (the body's fields win
   * over the template's). The per-user caps are checked under a per-owner advisory lock, so racing creates of
   * one user on any replicas cannot both pass.
   */
  async create(actor: Identity, body: CreateSessionBody): Promise<SessionView> {
    if (actor.session_scope !== undefined) throw new ChorusError('PERMISSION_DENIED', 'An agent credential acts in its own session only; it cannot create sessions.');
    const passwordHash = body.password !== undefined ? await hashPassword(body.password) : null;
    const id = await this.withEvents(async (tx, append) => {
      const template = body.template_id === undefined ? undefined : (await mustFindTemplate(tx, actor.user_id, body.template_id)).body;
      const caps = this.options.caps;
      if (caps !== undefined) {
        await sessionAdminRepo.lockOwner(tx, actor.user_id);
        const counts = await sessionAdminRepo.ownerCounts(tx, actor.user_id);
        if (counts.today >= caps.createdPerDay) {
          const retryAfterMs = Math.max(1_000, (counts.oldest_today?.getTime() ?? Date.now()) + 24 * 3600 * 1000 - Date.now());
          throw new ChorusError('RATE_LIMITED', `You created ${counts.today} sessions in the last 24 hours, the limit (SESSION_CREATE_PER_DAY).`, { retry_after_ms: retryAfterMs });
        }
        if (counts.open >= caps.openPerUser) {
          throw new ChorusError('CONFLICT', `You own ${counts.open} open sessions, the limit (SESSION_OPEN_PER_USER); delete one first.`);
        }
      }
      const settings: Record<string, unknown> = { ...(template?.settings ?? {}), ...(body.settings ?? {}) };
      if (template?.channels !== undefined && settings.channels === undefined) settings.channels = template.channels;
      if (template?.file_permissions !== undefined && settings.file_permissions === undefined) settings.file_permissions = template.file_permissions;
      const sessionId = await sessionsRepo.insert(tx, {
        name: body.name,
        owner_id: actor.user_id,
        project_path: body.project_path ?? template?.project_path ?? null,
        settings,
        is_public: body.is_public ?? template?.is_public ?? false,
        password_hash: passwordHash,
        max_participants: body.max_participants ?? template?.max_participants ?? 50,
        expires_at: body.expires_in_s !== undefined ? new Date(Date.now() + body.expires_in_s * 1000) : null,
      });
      await participantsRepo.upsert(tx, { session_id: sessionId, ...actor, role: 'owner' });
      await append(sessionId, [{ type: 'session_created', actor: actor.user_id, payload: { name: body.name } }]);
      // A template's default roles: those participants exist from the start (the owner keeps "owner").
      const members = (template?.default_roles ?? []).filter((m) => m.user_id !== actor.user_id);
      for (const m of members) {
        const kind = m.role === 'agent' ? 'agent' : 'human';
        await participantsRepo.upsert(tx, { session_id: sessionId, user_id: m.user_id, display_name: m.display_name ?? m.user_id, kind, role: m.role });
      }
      if (members.length > 0) {
        await append(
          sessionId,
          members.map((m) => ({ type: 'participant_added' as const, actor: actor.user_id, payload: { user_id: m.user_id, role: m.role, display_name: m.display_name ?? m.user_id, kind: m.role === 'agent' ? ('agent' as const) : ('human' as const) } })),
        );
      }
      return sessionId;
    });
    return sessionView(await this.mustFind(this.db, id), 'owner');
  }

  async list(actor: Identity): Promise<SessionView[]> {
    const rows = await sessionsRepo.listVisible(this.db, actor.user_id, 200);
    return rows.filter((r) => actor.session_scope === undefined || r.id === actor.session_scope).map((r) => sessionView(r, r.my_role));
  }

  /** Participants see their session; anyone signed in can see a public one; others get NOT_FOUND (no existence leak). */
  async get(actor: Identity, sessionId: string): Promise<SessionView> {
    outOfScope(actor, sessionId);
    const row = await this.mustFind(this.db, sessionId);
    const me = await participantsRepo.find(this.db, sessionId, actor.user_id);
    if (!me && !row.is_public) throw notFound(sessionId);
    return sessionView(row, me?.role ?? null);
  }

  async delete(actor: Identity, sessionId: string): Promise<void> {
    await this.audit.refusing(actor, sessionId, 'session.delete', () =>
      this.withEvents(async (tx, append) => {
        await this.authorized(tx, actor, sessionId, 'session.delete');
        await append(sessionId, [{ type: 'session_deleted', actor: actor.user_id, payload: {} }]);
        await sessionsRepo.softDelete(tx, sessionId);
      }),
    );
  }

  /**
   * Creates an invite. Idempotent per transport request (`requestId`, with `inviteTokenSecret` set): the
   * invite row keeps the request id (unique), a redelivery finds that invite instead of creating another one
   * and answers the same reply — code, token (derived from the request id) and expiry — appending nothing.
   */
  async createInvite(actor: Identity, sessionId: string, body: CreateInviteBody, requestId?: string): Promise<InviteCreated> {
    await this.audit.refusing(actor, sessionId, 'invite.create', async () => authorizeGrant(await this.authorized(this.db, actor, sessionId, 'invite.create'), body.role));
    const secret = this.options.inviteTokenSecret;
    const requestKey = requestId !== undefined && secret !== undefined ? requestId : null;
    const token = requestKey !== null && secret !== undefined ? inviteTokenFor(secret, requestKey) : newSecretToken();
    const passwordHash = body.password !== undefined ? await hashPassword(body.password) : null;
    // A permanent link has no expiry (it stays until revoked).
    const expiresAt = body.permanent === true ? null : new Date(Date.now() + (body.expires_in_s ?? this.options.defaultInviteTtlS) * 1000);
    const forUser = body.user_id ?? null;
    for (let attempt = 0; attempt < 5; attempt++) {
      const code = newInviteCode();
      const created = await this.withEvents(async (tx, append) => {
        const inviteId = await invitesRepo.insert(tx, {
          session_id: sessionId,
          code,
          token_hash: hashToken(token),
          role: body.role,
          created_by: actor.user_id,
          expires_at: expiresAt,
          max_uses: body.max_uses ?? null,
          password_hash: passwordHash,
          request_key: requestKey,
          for_user_id: forUser,
        });
        if (inviteId === undefined) {
          // A code collision, or this request's invite already exists (a redelivery): answer that one.
          const prior = requestKey === null ? undefined : await invitesRepo.findByRequestKey(tx, requestKey);
          return prior && { invite_id: prior.id, code: prior.code, role: prior.role, expires_at: prior.expires_at, max_uses: prior.max_uses, user_id: prior.for_user_id };
        }
        await append(sessionId, [
          {
            type: 'invite_created',
            actor: actor.user_id,
            payload: { invite_id: inviteId, role: body.role, expires_at: expiresAt?.toISOString() ?? null, max_uses: body.max_uses ?? null, ...(forUser !== null ? { user_id: forUser } : {}) },
          },
        ]);
        return { invite_id: inviteId, code, role: body.role, expires_at: expiresAt, max_uses: body.max_uses ?? null, user_id: forUser };
      });
      if (created !== undefined) {
        return {
          invite_id: created.invite_id,
          code: created.code,
          token,
          url: `${this.options.publicUrl.replace(/\/$/, '')}/join/${token}`,
          role: created.role,
          expires_at: created.expires_at?.toISOString() ?? null,
          max_uses: created.max_uses,
          user_id: created.user_id,
        };
      }
    }
    throw new ChorusError('SERVER_ERROR', 'Could not allocate a unique invite code; retry.');
  }

  async revokeInvite(actor: Identity, sessionId: string, inviteId: string): Promise<void> {
    await this.audit.refusing(actor, sessionId, 'invite.revoke', () =>
      this.withEvents(async (tx, append) => {
        await this.authorized(tx, actor, sessionId, 'invite.revoke');
        if (!(await invitesRepo.revoke(tx, sessionId, inviteId))) throw new ChorusError('NOT_FOUND', `Invite ${inviteId} does not exist in this session or is already revoked.`);
        await append(sessionId, [{ type: 'invite_revoked', actor: actor.user_id, payload: { invite_id: inviteId } }]);
      }),
      inviteId,
    );
  }

  /**
   * The `/join ABC123` flow: a code (or the invite link's token) alone makes the caller a participant with the
   * invite's role and returns a join token. Expired, used-up and revoked invites are NOT_FOUND-like dead ends
   * with their own message; a wrong password is PERMISSION_DENIED.
   */
  async redeemInvite(actor: Identity, codeOrToken: string, password: string | undefined): Promise<JoinGrantView & { change: MembershipChange | null }> {
    const code = codeOrToken.toUpperCase();
    const invite = await invitesRepo.findByCodeOrTokenHash(this.db, inviteCodePattern.test(code) ? code : '', hashToken(codeOrToken));
    if (!invite) throw new ChorusError('NOT_FOUND', 'No invite has this code. Check it, or ask for a new invite.');
    if (invite.revoked_at) throw new ChorusError('NOT_FOUND', 'This invite was revoked. Ask for a new invite.');
    if (invite.expires_at !== null && invite.expires_at.getTime() <= Date.now()) throw new ChorusError('NOT_FOUND', 'This invite has expired. Ask for a new invite.');
    if (invite.max_uses !== null && invite.uses >= invite.max_uses) throw new ChorusError('NOT_FOUND', 'This invite has been used up. Ask for a new invite.');
    outOfScope(actor, invite.session_id);
    await this.audit.refusing(actor, invite.session_id, 'invite.redeem', async () => {
      // An addressed invite: only its principal. Checked before the password, so nobody else learns anything more.
      if (invite.for_user_id !== null && invite.for_user_id !== actor.user_id) {
        throw new ChorusError('PERMISSION_DENIED', 'This invite is addressed to another user; ask the session owner for your own invite.');
      }
      if (invite.password_hash !== null && (password === undefined || !(await verifyPassword(password, invite.password_hash)))) {
        throw new ChorusError('PERMISSION_DENIED', password === undefined ? 'This invite needs a password.' : 'Wrong invite password.');
      }
    }, invite.id);
    const result = await this.withEvents(async (tx, append) => {
      const session = await this.mustFind(tx, invite.session_id, true);
      const existing = await participantsRepo.find(tx, session.id, actor.user_id);
      if (!(await invitesRepo.consumeUse(tx, invite.id))) throw new ChorusError('NOT_FOUND', 'This invite has just been used up or expired. Ask for a new invite.');
      // An invite never downgrades: a participant keeps the higher of its role and the invite's.
      const role: Role = existing && !mayManage(invite.role, existing.role) ? existing.role : invite.role;
      if (!existing && Number(session.participant_count) >= session.max_participants) {
        throw new ChorusError('SESSION_FULL', `The session has reached its limit of ${session.max_participants} participants.`);
      }
      await participantsRepo.upsert(tx, { session_id: session.id, ...actor, role });
      const [event] = await append(session.id, [
        { type: 'invite_redeemed', actor: actor.user_id, payload: { invite_id: invite.id, role, display_name: actor.display_name, kind: actor.kind } },
      ]);
      return { role, change: existing?.role === role ? null : { session_id: session.id, user_id: actor.user_id, role, seq: event.seq } };
    });
    return { ...this.grant(actor, invite.session_id, result.role), change: result.change };
  }

  /** A join token for an existing participant; a public session admits newcomers as viewers (password if set). */
  async join(actor: Identity, sessionId: string, password: string | undefined): Promise<JoinGrantView> {
    outOfScope(actor, sessionId);
    const session = await this.mustFind(this.db, sessionId);
    const me = await participantsRepo.find(this.db, sessionId, actor.user_id);
    if (me) return this.grant(actor, sessionId, me.role);
    if (!session.is_public) throw notFound(sessionId);
    if (session.password_hash !== null && (password === undefined || !(await verifyPassword(password, session.password_hash)))) {
      throw new ChorusError('PERMISSION_DENIED', password === undefined ? 'This session needs a password.' : 'Wrong session password.');
    }
    await this.withEvents(async (tx, append) => {
      const locked = await this.mustFind(tx, sessionId, true);
      if (Number(locked.participant_count) >= locked.max_participants) throw new ChorusError('SESSION_FULL', `The session has reached its limit of ${locked.max_participants} participants.`);
      await participantsRepo.upsert(tx, { session_id: sessionId, ...actor, role: 'viewer' });
      await append(sessionId, [{ type: 'participant_added', actor: actor.user_id, payload: { user_id: actor.user_id, role: 'viewer', display_name: actor.display_name, kind: actor.kind } }]);
    });
    return this.grant(actor, sessionId, 'viewer');
  }

  /** Leaves the session for good (not just the socket). The owner cannot leave: it deletes the session instead. */
  async leave(actor: Identity, sessionId: string): Promise<MembershipChange> {
    return this.withEvents(async (tx, append) => {
      const role = await this.authorized(tx, actor, sessionId, 'session.read');
      if (role === 'owner') throw new ChorusError('OWNER_CANNOT_LEAVE', 'The owner cannot leave the session; delete it instead.');
      await participantsRepo.remove(tx, sessionId, actor.user_id);
      const [event] = await append(sessionId, [{ type: 'participant_left', actor: actor.user_id, payload: { user_id: actor.user_id } }]);
      return { session_id: sessionId, user_id: actor.user_id, role: null, seq: event.seq };
    });
  }

  async participants(actor: Identity, sessionId: string): Promise<ParticipantView[]> {
    await this.authorized(this.db, actor, sessionId, 'participant.list');
    return (await participantsRepo.list(this.db, sessionId)).map(participantView);
  }

  async updateRole(actor: Identity, sessionId: string, userId: string, role: Role): Promise<MembershipChange> {
    return this.audit.refusing(actor, sessionId, 'participant.update_role', () => this.withEvents(async (tx, append) => {
      const actorRole = await this.authorized(tx, actor, sessionId, 'participant.update_role');
      const target = await participantsRepo.find(tx, sessionId, userId);
      if (!target) throw new ChorusError('NOT_FOUND', `User ${userId} is not a participant of this session.`);
      if (target.user_id === actor.user_id) throw new ChorusError('PERMISSION_DENIED', 'You cannot change your own role.');
      if (!mayManage(actorRole, target.role)) throw new ChorusError('PERMISSION_DENIED', `Role "${actorRole}" may not change the role of a "${target.role}".`);
      authorizeGrant(actorRole, role);
      await participantsRepo.setRole(tx, sessionId, userId, role);
      const [event] = await append(sessionId, [{ type: 'role_changed', actor: actor.user_id, payload: { user_id: userId, from: target.role, to: role } }]);
      return { session_id: sessionId, user_id: userId, role, seq: event.seq };
    }), userId);
  }

  async removeParticipant(actor: Identity, sessionId: string, userId: string): Promise<MembershipChange> {
    return this.audit.refusing(actor, sessionId, 'participant.remove', () => this.withEvents(async (tx, append) => {
      const actorRole = await this.authorized(tx, actor, sessionId, 'participant.remove');
      const target = await participantsRepo.find(tx, sessionId, userId);
      if (!target) throw new ChorusError('NOT_FOUND', `User ${userId} is not a participant of this session.`);
      if (!mayManage(actorRole, target.role)) throw new ChorusError('PERMISSION_DENIED', `Role "${actorRole}" may not remove a "${target.role}".`);
      await participantsRepo.remove(tx, sessionId, userId);
      const [event] = await append(sessionId, [{ type: 'participant_removed', actor: actor.user_id, payload: { user_id: userId } }]);
      return { session_id: sessionId, user_id: userId, role: null, seq: event.seq };
    }), userId);
  }

  /**
   * `session.gone`: which of these sessions are deleted or no longer exist. Asked by the conflict service's
   * purge backstop (not by clients), so it needs no actor; it reveals nothing but existence to a trusted caller.
   */
  async gone(sessionIds: unknown): Promise<{ gone: string[] }> {
    if (!Array.isArray(sessionIds) || sessionIds.length > MAX_GONE_QUERY || !sessionIds.every((id): id is string => typeof id === 'string' && UUID.test(id))) {
      throw new ChorusError('VALIDATION_ERROR', `session_ids must be an array of at most ${MAX_GONE_QUERY} session ids (UUIDs).`, { field: 'session_ids' });
    }
    // Lower-cased: Postgres answers uuids in lower case, and the caller matches its own ids against the answer.
    const ids = [...new Set(sessionIds.map((id) => id.toLowerCase()))];
    return { gone: ids.length === 0 ? [] : await sessionsRepo.gone(this.db, ids) };
  }

  async history(actor: Identity, sessionId: string, query: HistoryQuery): Promise<HistoryPage> {
    await this.authorized(this.db, actor, sessionId, 'history.read');
    const session = await this.mustFind(this.db, sessionId);
    const read = await this.events.read(sessionId, query.after_seq, query.limit);
    // Chat messages as they are now (latest text, tombstones): their later edits may lie beyond this page.
    const events = withChatState(read, foldChatThreads(await this.events.chatThreads(this.db, sessionId, chatSeqsOf(read))));
    const last = events.length > 0 ? events[events.length - 1].seq : query.after_seq;
    const head = Number(session.last_seq);
    // A refusal without its resource, as in the live push (refusalForMembers); the audit export keeps it whole.
    const views = events.map((e) => (e.type === 'access_refused' ? eventView({ ...e, payload: refusalForMembers(e.payload) }) : eventView(e)));
    return { session_id: sessionId, events: views, next_after_seq: last < head ? last : null, last_seq: head };
  }

  private async authorized(db: Executor, actor: Identity, sessionId: string, action: Action): Promise<Role> {
    outOfScope(actor, sessionId);
    const session = await sessionsRepo.find(db, sessionId);
    const me = await participantsRepo.find(db, sessionId, actor.user_id);
    if (!session || (!me && !session.is_public)) throw notFound(sessionId);
    authorize(me?.role, action);
    return (me as { role: Role }).role;
  }

  private grant(actor: Identity, sessionId: string, role: Role): JoinGrantView {
    return {
      session_id: sessionId,
      join_token: this.tokens.mintJoin({ ...actor, session_id: sessionId, role }, this.options.joinTokenTtlS),
      role,
      expires_in_s: this.options.joinTokenTtlS,
    };
  }

  private async mustFind(db: Executor, sessionId: string, lock = false): Promise<SessionRow> {
    const row = await sessionsRepo.find(db, sessionId, lock);
    if (!row) throw notFound(sessionId);
    return row;
  }
}

/** The most ids one `session.gone` may ask about (the backstop asks in batches below this). */
const MAX_GONE_QUERY = 1_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The dedupe key of the one event a transport request appends (none when called outside the transport). */
function requestKey(requestId: string | undefined): { dedupe_key?: string } {
  return requestId === undefined ? {} : { dedupe_key: dedupeKeys.request(requestId) };
}

/**
 * An agent credential (`session_scope`) is refused outside its session as if the session did not exist. Its
 * user id is a participant of that session only, so this matters for public sessions and invites.
 */
export function outOfScope(actor: Identity, sessionId: string): void {
  if (actor.session_scope !== undefined && actor.session_scope.toLowerCase() !== sessionId.toLowerCase()) throw notFound(sessionId);
}

export function notFound(sessionId: string): ChorusError {
  return new ChorusError('NOT_FOUND', `Session ${sessionId} does not exist, has expired, or you are not a participant.`);
}
