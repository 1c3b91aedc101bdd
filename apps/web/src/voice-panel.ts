import type { ChorusSession, VoicePush } from '@chorus/client';
import { h, replaceChildren } from './dom';

// The voice call of a session on screen (issue 16): join/leave the default room, mute, the members with who is
// speaking. Audio is WebRTC between the members (a mesh: each newcomer offers to everyone already in the room),
// with Chorus as the only signaling road (voice_offer / voice_answer / voice_ice to exactly one peer).
// "Speaking" is this page's own voice-activity detection on its microphone, told to the room (voice_speaking).

interface Member {
  displayName: string;
  muted: boolean;
  speaking: boolean;
}

interface Peer {
  readonly pc: RTCPeerConnection;
  /** ICE candidates that arrived before the remote description: added once it is set. */
  readonly early: RTCIceCandidateInit[];
  audio: HTMLAudioElement | null;
}

/** RMS level (0..1) above which the microphone counts as speaking, and how often it is looked at. */
const SPEAKING_LEVEL = 0.02;
const VAD_EVERY_MS = 100;

export class VoicePanel {
  readonly root: HTMLElement;
  private readonly memberList = h('ul', { class: 'voice-members', 'data-testid': 'voice-members' });
  private readonly joinButton = h('button', { 'data-testid': 'voice-join', onclick: () => void this.toggle() }, 'Join call');
  private readonly muteButton = h('button', { 'data-testid': 'voice-mute', disabled: true, onclick: () => void this.toggleMute() }, 'Mute');
  private readonly members = new Map<string, Member>();
  private readonly peers = new Map<string, Peer>();
  private iceServers: RTCIceServer[] = [];
  private local: MediaStream | null = null;
  private vad: { context: AudioContext; timer: ReturnType<typeof setInterval> } | null = null;
  private joined = false;
  private muted = false;
  private speaking = false;

  constructor(
    private readonly session: ChorusSession,
    private readonly myPeerId: () => string,
    private readonly show: (message: string) => void,
  ) {
    this.root = h('section', { class: 'voice', 'data-testid': 'voice-panel', 'data-joined': false }, h('h3', {}, 'Call'), h('div', { class: 'voice-actions' }, this.joinButton, this.muteButton), this.memberList);
    session.on('voice', (m) => void this.onPush(m).catch((err: unknown) => this.show(`voice: ${(err as Error).message}`)));
  }

  private async toggle(): Promise<void> {
    try {
      if (this.joined) await this.leave();
      else await this.join();
    } catch (err) {
      this.show(`call: ${(err as Error).message}`);
    }
  }

  async join(): Promise<void> {
    this.local = await navigator.mediaDevices.getUserMedia({ audio: true });
    const joined = await this.session.joinVoice({ muted: this.muted });
    this.joined = true;
    this.iceServers = joined.ice_servers.map((s) => ({ urls: s.urls, ...(s.username !== undefined ? { username: s.username } : {}), ...(s.credential !== undefined ? { credential: s.credential } : {}) }));
    this.members.clear();
    for (const m of joined.members) this.members.set(m.peer_id, { displayName: m.display_name, muted: m.muted, speaking: false });
    this.startVad(this.local);
    // The newcomer calls everyone already here; they answer.
    for (const peerId of this.members.keys()) if (peerId !== this.myPeerId()) await this.call(peerId);
    this.render();
  }

  async leave(): Promise<void> {
    this.joined = false;
    for (const peerId of [...this.peers.keys()]) this.hangUp(peerId);
    this.stopVad();
    this.local?.getTracks().forEach((t) => t.stop());
    this.local = null;
    this.members.clear();
    this.render();
    await this.session.leaveVoice();
  }

  private async toggleMute(): Promise<void> {
    this.muted = !this.muted;
    this.local?.getAudioTracks().forEach((t) => (t.enabled = !this.muted));
    if (this.muted) this.setSpeaking(false);
    try {
      const updated = await this.session.setMuted(this.muted);
      this.members.set(updated.peer_id, { ...(this.members.get(updated.peer_id) ?? { displayName: updated.display_name, speaking: false }), muted: updated.muted });
    } catch (err) {
      this.show(`mute: ${(err as Error).message}`);
    }
    this.render();
  }

  private async onPush(m: VoicePush): Promise<void> {
    if (!this.joined) return;
    switch (m.type) {
      case 'voice_user_joined':
        this.members.set(m.peer_id, { displayName: m.display_name, muted: m.muted, speaking: false });
        break;
      case 'voice_user_left':
        this.members.delete(m.peer_id);
        this.hangUp(m.peer_id);
        break;
      case 'voice_member_updated': {
        const known = this.members.get(m.peer_id);
        this.members.set(m.peer_id, { displayName: m.display_name, muted: m.muted, speaking: m.muted ? false : (known?.speaking ?? false) });
        break;
      }
      case 'voice_speaking': {
        const known = this.members.get(m.peer_id);
        if (known) known.speaking = m.speaking;
        break;
      }
      case 'voice_offer': {
        const peer = this.peer(m.from_peer_id);
        await peer.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
        await this.flushEarly(peer);
        const answer = await peer.pc.createAnswer();
        await peer.pc.setLocalDescription(answer);
        await this.session.signal(m.from_peer_id, { kind: 'answer', sdp: answer.sdp ?? '' });
        break;
      }
      case 'voice_answer': {
        const peer = this.peers.get(m.from_peer_id);
        if (!peer) return;
        await peer.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
        await this.flushEarly(peer);
        break;
      }
      case 'voice_ice': {
        if (m.candidate.candidate === '') return;
        const peer = this.peer(m.from_peer_id);
        const init: RTCIceCandidateInit = { candidate: m.candidate.candidate, sdpMid: m.candidate.sdp_mid ?? null, sdpMLineIndex: m.candidate.sdp_mline_index ?? null };
        if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(init);
        else peer.early.push(init);
        return;
      }
      default:
    }
    this.render();
  }

  private async call(peerId: string): Promise<void> {
    const peer = this.peer(peerId);
    const offer = await peer.pc.createOffer();
    await peer.pc.setLocalDescription(offer);
    await this.session.signal(peerId, { kind: 'offer', sdp: offer.sdp ?? '' });
  }

  private peer(peerId: string): Peer {
    const known = this.peers.get(peerId);
    if (known) return known;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const peer: Peer = { pc, early: [], audio: null };
    this.peers.set(peerId, peer);
    for (const track of this.local?.getTracks() ?? []) pc.addTrack(track, this.local as MediaStream);
    pc.onicecandidate = (e) => {
      if (!e.candidate) return;
      const c = e.candidate.toJSON();
      this.session
        .signal(peerId, { kind: 'ice', candidate: { candidate: c.candidate ?? '', sdp_mid: c.sdpMid ?? null, sdp_mline_index: c.sdpMLineIndex ?? null } })
        .catch((err: unknown) => this.show(`ice to ${peerId}: ${(err as Error).message}`));
    };
    pc.ontrack = (e) => {
      const audio = peer.audio ?? h('audio', { autoplay: true, 'data-peer': peerId });
      audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      peer.audio = audio;
      this.root.appendChild(audio);
      this.render();
    };
    pc.onconnectionstatechange = () => this.render();
    return peer;
  }

  private async flushEarly(peer: Peer): Promise<void> {
    for (const c of peer.early.splice(0)) await peer.pc.addIceCandidate(c);
  }

  private hangUp(peerId: string): void {
    const peer = this.peers.get(peerId);
    if (!peer) return;
    peer.pc.close();
    peer.audio?.remove();
    this.peers.delete(peerId);
  }

  /** Voice activity: the microphone's RMS level, looked at every 100 ms; a change is told to the room. */
  private startVad(stream: MediaStream): void {
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      this.setSpeaking(!this.muted && Math.sqrt(sum / samples.length) > SPEAKING_LEVEL);
    }, VAD_EVERY_MS);
    this.vad = { context, timer };
  }

  private stopVad(): void {
    if (!this.vad) return;
    clearInterval(this.vad.timer);
    void this.vad.context.close();
    this.vad = null;
    this.speaking = false;
  }

  private setSpeaking(speaking: boolean): void {
    if (speaking === this.speaking || !this.joined) return;
    this.speaking = speaking;
    const me = this.members.get(this.myPeerId());
    if (me) me.speaking = speaking;
    this.render();
    this.session.setSpeaking(speaking).catch((err: unknown) => this.show(`speaking: ${(err as Error).message}`));
  }

  private render(): void {
    this.root.dataset.joined = String(this.joined);
    this.joinButton.textContent = this.joined ? 'Leave call' : 'Join call';
    this.muteButton.disabled = !this.joined;
    this.muteButton.textContent = this.muted ? 'Unmute' : 'Mute';
    replaceChildren(
      this.memberList,
      ...[...this.members].map(([peerId, m]) => {
        const peer = this.peers.get(peerId);
        return h(
          'li',
          {
            'data-peer': peerId,
            'data-muted': String(m.muted),
            'data-speaking': String(m.speaking),
            'data-connection': peerId === this.myPeerId() ? 'self' : (peer?.pc.connectionState ?? 'none'),
            'data-audio': peer?.audio ? 'receiving' : 'none',
            class: m.speaking ? 'speaking' : undefined,
          },
          m.displayName,
          peerId === this.myPeerId() && ' (you)',
          m.muted && h('span', { class: 'badge muted' }, 'muted'),
          m.speaking && h('span', { class: 'badge speaking' }, 'speaking'),
        );
      }),
    );
  }
}
