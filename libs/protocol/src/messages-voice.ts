import { z } from 'zod';
import { text } from './text';
import { messageIdSchema } from './errors';
import { displayNameSchema, peerIdSchema, sessionIdSchema, timestampSchema, userIdSchema } from './fields';

// Voice: rooms inside a session, and the WebRTC signaling relay between their members. Media never touches
// Chorus: peers connect directly (or through TURN); the server only relays offers, answers and ICE candidates
// to exactly one peer — on whichever gateway it is — and only within one voice room.

const id = messageIdSchema.optional();
const session_id = sessionIdSchema;

/** A voice room of a session: `default` unless named. Letters, digits, `-`, `_`, `.`, `:`. */
export const voiceRoomSchema = text().min(1).max(64).regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only');
export const DEFAULT_VOICE_ROOM = 'default';
/** An SDP offer or answer: typical ones are 2–6 KB; 16,000 characters leaves room for many codecs and tracks. */
export const SDP_MAX_CHARS = 16_000;
export const sdpSchema = text().min(1).max(SDP_MAX_CHARS);
/** One ICE candidate (RTCIceCandidateInit, in snake_case); `candidate: ""` is the end-of-candidates marker. */
export const iceCandidateSchema = z.strictObject({
  candidate: text().max(1_024),
  sdp_mid: text().max(64).nullable().optional(),
  sdp_mline_index: z.number().int().nonnegative().max(1_024).nullable().optional(),
  username_fragment: text().max(256).nullable().optional(),
});

/** A member of a voice room, as `voice_joined`, `who` and `voice_user_joined` show it. */
export const voiceMemberSchema = z.strictObject({
  peer_id: peerIdSchema,
  user_id: userIdSchema,
  display_name: displayNameSchema,
  room: voiceRoomSchema,
  muted: z.boolean(),
});

/** An ICE server for RTCPeerConnection (`urls`, and a TURN server's short-lived `username`/`credential`). */
export const iceServerSchema = z.strictObject({ urls: z.array(text().max(512)).max(16), username: text().max(512).optional(), credential: text().max(512).optional() });

// ---- client → server ----

export const voiceJoinSchema = z.strictObject({ type: z.literal('voice_join'), id, session_id, room: voiceRoomSchema.optional(), muted: z.boolean().optional() });
export const voiceLeaveSchema = z.strictObject({ type: z.literal('voice_leave'), id, session_id });
export const voiceOfferSchema = z.strictObject({ type: z.literal('voice_offer'), id, session_id, to_peer_id: peerIdSchema, sdp: sdpSchema });
export const voiceAnswerSchema = z.strictObject({ type: z.literal('voice_answer'), id, session_id, to_peer_id: peerIdSchema, sdp: sdpSchema });
export const voiceIceSchema = z.strictObject({ type: z.literal('voice_ice'), id, session_id, to_peer_id: peerIdSchema, candidate: iceCandidateSchema });
export const voiceMuteSchema = z.strictObject({ type: z.literal('voice_mute'), id, session_id });
export const voiceUnmuteSchema = z.strictObject({ type: z.literal('voice_unmute'), id, session_id });
export const voiceSpeakingRequestSchema = z.strictObject({ type: z.literal('voice_speaking'), id, session_id, speaking: z.boolean() });

// ---- server → client ----

/** The reply to `voice_join`: the room's members (this peer included) and this user's ICE servers. */
export const voiceJoinedSchema = z.strictObject({
  type: z.literal('voice_joined'),
  id,
  session_id,
  room: voiceRoomSchema,
  peer_id: peerIdSchema,
  members: z.array(voiceMemberSchema),
  ice_servers: z.array(iceServerSchema),
  /** When the TURN credentials in `ice_servers` expire (ms since the epoch); null: nothing expires. */
  ice_expires_at: timestampSchema.nullable(),
});

export const voiceLeftSchema = z.strictObject({ type: z.literal('voice_left'), id, session_id, room: voiceRoomSchema.nullable(), peer_id: peerIdSchema });

export const voiceUserJoinedSchema = z.strictObject({ type: z.literal('voice_user_joined'), session_id, ...voiceMemberSchema.shape });

export const voiceUserLeftSchema = z.strictObject({
  type: z.literal('voice_user_left'),
  session_id,
  room: voiceRoomSchema,
  peer_id: peerIdSchema,
  user_id: userIdSchema,
  /** `left`: voice_leave (or a move to another room); `disconnected`: left the session or closed; `expired`: its gateway died. */
  reason: z.enum(['left', 'disconnected', 'expired']),
});

/** A member muted or unmuted: pushed to the session, and the reply to `voice_mute` / `voice_unmute`. */
export const voiceMemberUpdatedSchema = z.strictObject({ type: z.literal('voice_member_updated'), id, session_id, ...voiceMemberSchema.shape });

/** Who is speaking (the client's own voice-activity detection): pushed to the room, and the reply. */
export const voiceSpeakingEventSchema = z.strictObject({
  type: z.literal('voice_speaking'),
  id,
  session_id,
  room: voiceRoomSchema,
  peer_id: peerIdSchema,
  user_id: userIdSchema,
  speaking: z.boolean(),
});

const relayed = { session_id, room: voiceRoomSchema, from_peer_id: peerIdSchema, from_user_id: userIdSchema };
export const voiceOfferEventSchema = z.strictObject({ type: z.literal('voice_offer'), ...relayed, sdp: sdpSchema });
export const voiceAnswerEventSchema = z.strictObject({ type: z.literal('voice_answer'), ...relayed, sdp: sdpSchema });
export const voiceIceEventSchema = z.strictObject({ type: z.literal('voice_ice'), ...relayed, candidate: iceCandidateSchema });

/** The reply to a relayed signal: handed to the road for `to_peer_id` (delivery is not confirmed end to end). */
export const voiceRelayedSchema = z.strictObject({ type: z.literal('voice_relayed'), id, session_id, to_peer_id: peerIdSchema });

export type VoiceMember = z.infer<typeof voiceMemberSchema>;
export type IceCandidate = z.infer<typeof iceCandidateSchema>;
