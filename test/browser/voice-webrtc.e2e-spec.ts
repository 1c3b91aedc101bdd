import { chromium, type Browser, type Page } from 'playwright-core';
import { ChorusClient } from '../e2e/support/chorus-client';
import { startProcessCluster, type ProcessCluster } from '../e2e/support/cluster';
import { setUpSession } from '../e2e/support/scenario';
import { CHROMIUM } from './support/browser';

// Issue 16, must show: two headless Chromium pages on two different gateways establish a real RTCPeerConnection
// using only Chorus for signaling — offer, answer and ICE over the plain WebSocket endpoint /ws, relayed by the
// gateways through the one outbound road — and exchange data over its data channel. A third peer, in another
// session, never receives their offers and cannot send one to them. Separate processes: two gateways, one
// replica of each service, the real Postgres and Redis.

let cluster: ProcessCluster;
let browser: Browser;
const clients: ChorusClient[] = [];

beforeAll(async () => {
  // Loopback candidates and plain host addresses (no mDNS names): the two pages share this machine.
  const launching = chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
  cluster = await startProcessCluster('voice_rtc', { gateways: 2, replicas: 1, extraEnv: { CORS_ORIGINS: '*' } });
  browser = await launching;
}, 180_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await browser?.close();
  await cluster?.stop();
});

/**
 * A page's side of the call, all in the page: a /ws connection (auth frame, join, voice_join), one
 * RTCPeerConnection whose every signal goes through Chorus, and what arrived on the data channel.
 */
const PAGE_SCRIPT = `
window.voice = {
  frames: [], received: [], errors: [],
  async start(wsUrl, token, sessionId, peerId, joinToken) {
    const ws = new WebSocket(wsUrl);
    this.ws = ws;
    let n = 0;
    const pending = new Map();
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      if (f.id !== undefined && pending.has(f.id)) { pending.get(f.id)(f); pending.delete(f.id); return; }
      this.frames.push(f);
      this.onPush(f).catch((err) => this.errors.push(String(err)));
    };
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
    this.request = (frame) => new Promise((resolve) => { const id = 'p' + (++n); pending.set(id, resolve); ws.send(JSON.stringify({ ...frame, id })); });
    const hello = await this.request({ type: 'auth', token });
    if (hello.type !== 'hello') throw new Error('auth: ' + JSON.stringify(hello));
    this.sessionId = sessionId;
    const joined = await this.request({ type: 'join', session_id: sessionId, peer_id: peerId, join_token: joinToken });
    if (joined.type !== 'joined') throw new Error('join: ' + JSON.stringify(joined));
    const voice = await this.request({ type: 'voice_join', session_id: sessionId });
    if (voice.type !== 'voice_joined') throw new Error('voice_join: ' + JSON.stringify(voice));
    this.pc = new RTCPeerConnection({ iceServers: voice.ice_servers });
    this.pc.onicecandidate = (e) => {
      if (!e.candidate || !this.remote) return;
      const c = e.candidate.toJSON();
      this.signal({ type: 'voice_ice', to_peer_id: this.remote, candidate: { candidate: c.candidate, sdp_mid: c.sdpMid ?? null, sdp_mline_index: c.sdpMLineIndex ?? null } });
    };
    this.pc.ondatachannel = (e) => this.listen(e.channel);
    return voice.members.map((m) => m.peer_id);
  },
  async signal(frame) {
    const reply = await this.request({ ...frame, session_id: this.sessionId });
    if (reply.type !== 'voice_relayed') this.errors.push(frame.type + ': ' + JSON.stringify(reply));
  },
  listen(channel) {
    this.channel = channel;
    channel.onmessage = (e) => this.received.push(e.data);
    channel.onopen = () => channel.send('hello from ' + this.sessionId.slice(0, 4));
  },
  async call(toPeerId) {
    this.remote = toPeerId;
    this.listen(this.pc.createDataChannel('chorus'));
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    await this.signal({ type: 'voice_offer', to_peer_id: toPeerId, sdp: offer.sdp });
  },
  async onPush(f) {
    if (f.type === 'voice_offer') {
      this.remote = f.from_peer_id;
      await this.pc.setRemoteDescription({ type: 'offer', sdp: f.sdp });
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      await this.signal({ type: 'voice_answer', to_peer_id: f.from_peer_id, sdp: answer.sdp });
    } else if (f.type === 'voice_answer') {
      await this.pc.setRemoteDescription({ type: 'answer', sdp: f.sdp });
    } else if (f.type === 'voice_ice' && f.candidate.candidate !== '') {
      await this.pc.addIceCandidate({ candidate: f.candidate.candidate, sdpMid: f.candidate.sdp_mid, sdpMLineIndex: f.candidate.sdp_mline_index });
    }
  },
};`;

interface VoiceWindow {
  voice: { frames: Array<{ type: string; from_peer_id?: string }>; received: string[]; errors: string[]; start(...a: string[]): Promise<string[]>; call(to: string): Promise<void>; pc: { iceConnectionState: string } };
}

/** A page on the gateway's own origin (its health endpoint), so its WebSocket is same-origin. */
async function page(base: string): Promise<Page> {
  const p = await (await browser.newContext()).newPage();
  await p.goto(`${base}/health/live`);
  await p.addScriptTag({ content: PAGE_SCRIPT });
  return p;
}

it('connects two Chromium pages on two gateways with RTCPeerConnection, signaled through Chorus only', async () => {
  const [gw1, gw2] = cluster.gateways;
  const people = await setUpSession(gw1, 'voice_rtc');
  const strangers = await setUpSession(gw1, 'voice_rtc_other');
  const sid = people.sessionId;
  const alice = await page(gw1);
  const bob = await page(gw2);
  const ws = (base: string) => `${base.replace(/^http/, 'ws')}/ws`;
  const start = (p: Page, base: string, token: string, peer: string, joinToken: string) =>
    p.evaluate(([u, t, s, pe, j]) => (globalThis as unknown as VoiceWindow).voice.start(u, t, s, pe, j), [ws(base), token, sid, peer, joinToken]);
  await start(bob, gw2, people.bob.token, 'bob-page', await people.bob.joinToken());
  expect(await start(alice, gw1, people.alice.token, 'alice-page', await people.alice.joinToken())).toEqual(['alice-page', 'bob-page']);

  // A third peer in another session, on Alice's gateway: it may not signal Bob, by session or by room.
  const carol = await ChorusClient.connect(gw1, strangers.alice.token);
  clients.push(carol);
  await carol.ok('join', { session_id: strangers.sessionId, peer_id: 'carol', join_token: await strangers.alice.joinToken() });
  await carol.ok('voice_join', { session_id: strangers.sessionId });
  expect(await carol.request('voice_offer', { session_id: sid, to_peer_id: 'bob-page', sdp: 'v=0\r\n' })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });
  expect(await carol.request('voice_offer', { session_id: strangers.sessionId, to_peer_id: 'bob-page', sdp: 'v=0\r\n' })).toMatchObject({ type: 'error', code: 'PERMISSION_DENIED' });

  await alice.evaluate(() => (globalThis as unknown as VoiceWindow).voice.call('bob-page'));
  await bob.waitForFunction(() => (globalThis as unknown as VoiceWindow).voice.received.length > 0, undefined, { timeout: 30_000 });
  await alice.waitForFunction(() => (globalThis as unknown as VoiceWindow).voice.received.length > 0, undefined, { timeout: 30_000 });
  const state = (p: Page) => p.evaluate(() => ({ received: (globalThis as unknown as VoiceWindow).voice.received, errors: (globalThis as unknown as VoiceWindow).voice.errors, ice: (globalThis as unknown as VoiceWindow).voice.pc.iceConnectionState, offersFrom: (globalThis as unknown as VoiceWindow).voice.frames.filter((f) => f.type === 'voice_offer').map((f) => f.from_peer_id) }));
  const [a, b] = [await state(alice), await state(bob)];
  expect(b).toMatchObject({ received: [`hello from ${sid.slice(0, 4)}`], errors: [], offersFrom: ['alice-page'] });
  expect(a).toMatchObject({ received: [`hello from ${sid.slice(0, 4)}`], errors: [], offersFrom: [] });
  expect(['connected', 'completed']).toContain(b.ice);
  // Carol heard nothing of their call.
  expect([...carol.of('voice_offer'), ...carol.of('voice_answer'), ...carol.of('voice_ice'), ...carol.of('voice_user_joined')]).toEqual([]);
}, 180_000);
