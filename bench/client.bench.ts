// npm run bench:client — the client side, measured where users feel it.
//   browser:  10 typists, each in its own Chromium context (Debian's chromium via playwright-core) on the app,
//             alternating between 2 gateway processes (one replica of each service, real Postgres and Redis);
//             every keystroke (a real key press into CodeMirror, ~8 keys/s per typist) is timed from its keydown in
//             the typist's tab to the frame after it was rendered in each of the other 9 tabs (both clocks are
//             this machine's: performance.timeOrigin + now). Insert-only typing, so a peer's k-th rendered
//             character is its k-th keystroke.
//   sdk_node: N @chorus/client clients in this process (the server in its own processes) editing one document as
//             every 25 ms each (one op in flight, the rest composed): committed ops/s, and this process's CPU time
//             (user + system) per op applied by a client (each committed op is applied by every client: acked by
//             its author, transformed and applied by the others) — the SDK's own cost, socket.io-client included.
//   sdk_node_ws: the same over /ws (transport: websocket, the ws package), in the same run: the transport's share.
// BENCH_QUICK=1 runs a short version; BENCH_PART=sdk only the SDK part. Writes bench/results/client.json.
// BENCH_PROFILE=1 also reports where the time goes while typing: a CPU profile of typist 1's tab (DevTools
// protocol) by self time (written to test-output/browser/client-typist-1.cpuprofile for Chrome DevTools), and the
// gateways' submit_op, op.submit, fetch_ops and presence_update latencies from their /metrics.
import { join } from 'node:path';
import WebSocket from 'ws';
import { ChorusClient, ChorusRest, type ChorusDocument, type ChorusTransport } from '@chorus/client';
import { startProcessCluster } from '../test/e2e/support/cluster';
import { appState, createSession, inviteLink, sessionReady, signIn } from '../test/browser/support/app';
import { launchChromium, newUser, type BrowserUser } from '../test/browser/support/browser';
import { OUTPUT_DIR, ensureWebBuild } from '../test/browser/support/web-build';
import { histogramDelta, histogramOf, startCpuProfile } from './lib/tab-profile';
import { cpuCalibrationMs, percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_PART=sdk runs the SDK part alone (e.g. under a profiler); its result file then has no browser figures. */
const PART = process.env.BENCH_PART ?? 'all';
const TYPISTS = Number(process.env.BENCH_TYPISTS ?? 10);
const TYPE_SECONDS = QUICK ? 8 : 20;
const KEY_INTERVAL_MS = 120;
const SDK_CLIENTS = Number(process.env.BENCH_SDK_CLIENTS ?? 6);
const EDIT_EVERY_MS = 25;
const SDK_SECONDS = QUICK ? 5 : 15;
const PROFILE = process.env.BENCH_PROFILE === '1';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Probe {
  keys: number[];
  rendered: Record<string, number[]>;
}

async function probeOf(user: BrowserUser): Promise<Probe> {
  return user.page.evaluate(() => {
    const p = (globalThis as unknown as { chorusDebug: { probe: Probe } }).chorusDebug.probe;
    return { keys: p.keys, rendered: p.rendered };
  });
}

async function browserBench(gateways: string[]): Promise<{ typists: number; keystroke_to_remote_render_p50_ms: number; p99_ms: number; samples: number; max_ms: number }> {
  const browser = await launchChromium();
  try {
    const users: BrowserUser[] = [];
    for (let i = 0; i < TYPISTS; i++) users.push(await newUser(browser));
    const gw = (i: number) => [gateways[i % gateways.length], ...gateways.filter((_, j) => j !== i % gateways.length)];
    await signIn(users[0].page, gw(0)[0], gw(0), 'Typist 0');
    await createSession(users[0].page, 'bench');
    const link = await inviteLink(users[0].page);
    for (let i = 1; i < TYPISTS; i++) {
      await signIn(users[i].page, link.replace(gw(0)[0], gw(i)[0]), gw(i), `Typist ${i}`);
      await sessionReady(users[i].page);
      progress(`typist ${i} joined on ${gw(i)[0]}`);
    }
    const peers = await Promise.all(users.map(async (u) => (await appState(u.page)).peerId as string));
    for (const u of users) {
      await u.page.evaluate(() => (globalThis as unknown as { chorusDebug: { probe: { start(): void } } }).chorusDebug.probe.start());
      await u.page.locator('.cm-content').click();
    }
    const cpuProfile = PROFILE ? await startCpuProfile(users[1].page) : null;
    const serverSide = async () => ({
      ack: await histogramOf(gateways, 'chorus_ws_ack_seconds', 'type="submit_op"'),
      submit: await histogramOf(gateways, 'chorus_transport_request_seconds', 'pattern="op.submit"'),
      fetch: await histogramOf(gateways, 'chorus_ws_ack_seconds', 'type="fetch_ops"'),
      presence: await histogramOf(gateways, 'chorus_ws_ack_seconds', 'type="presence_update"'),
    });
    const server0 = PROFILE ? await serverSide() : null;
    progress(`${TYPISTS} typists typing for ${TYPE_SECONDS} s, one key every ${KEY_INTERVAL_MS} ms each`);
    const end = Date.now() + TYPE_SECONDS * 1_000;
    const letters = 'abcdefghijklmnopqrstuvwxyz';
    await Promise.all(
      users.map(async (u, i) => {
        await sleep((KEY_INTERVAL_MS * i) / TYPISTS); // spread the typists over the interval
        for (let k = 0; Date.now() < end; k++) {
          const next = Date.now() + KEY_INTERVAL_MS;
          // Lines of 40 characters, as code has: one endless wrapped line would measure CodeMirror's layout instead.
          await u.page.keyboard.press(k % 40 === 39 ? 'Enter' : letters[(i + k) % letters.length]);
          await sleep(Math.max(0, next - Date.now()));
        }
      }),
    );
    if (cpuProfile) {
      const top = await cpuProfile.stop(join(OUTPUT_DIR, 'client-typist-1.cpuprofile'));
      printTable('typist 1: self time by function (sampled CPU profile)', top);
      const server1 = await serverSide();
      if (server0) {
        printTable('the gateways while typing: submit_op received → acked, and its op.submit round trip to the conflict service', [
          { what: 'submit_op ack (gateway)', ...histogramDelta(server0.ack, server1.ack) },
          { what: 'op.submit (transport)', ...histogramDelta(server0.submit, server1.submit) },
          { what: 'fetch_ops ack (gateway): gaps the tabs filled by asking', ...histogramDelta(server0.fetch, server1.fetch) },
          { what: 'presence_update ack (gateway)', ...histogramDelta(server0.presence, server1.presence) },
        ]);
      }
    }
    // Every tab has rendered every other typist's keystrokes (or the deadline says which did not).
    const deadline = Date.now() + 30_000;
    let probes: Probe[] = [];
    for (;;) {
      probes = await Promise.all(users.map(probeOf));
      const complete = probes.every((p, q) => peers.every((peer, i) => i === q || (p.rendered[peer]?.length ?? 0) >= probes[i].keys.length));
      if (complete) break;
      if (Date.now() > deadline) throw new Error('not every keystroke was rendered in every other tab within 30 s');
      await sleep(200);
    }
    const latencies: number[] = [];
    for (let i = 0; i < TYPISTS; i++) {
      for (let q = 0; q < TYPISTS; q++) {
        if (q === i) continue;
        const rendered = probes[q].rendered[peers[i]];
        probes[i].keys.forEach((t, k) => latencies.push(rendered[k] - t));
      }
    }
    for (const u of users) if (u.errors.length > 0) progress(`page errors: ${u.errors.slice(0, 3).join(' | ')}`);
    return {
      typists: TYPISTS,
      keystroke_to_remote_render_p50_ms: round(percentile(latencies, 50), 1),
      p99_ms: round(percentile(latencies, 99), 1),
      max_ms: round(Math.max(...latencies), 1),
      samples: latencies.length,
    };
  } finally {
    await browser.close();
  }
}

async function sdkBench(gateway: string, transport: ChorusTransport = 'socket.io'): Promise<{ clients: number; ops_per_s: number; cpu_us_per_op: number; ops_applied: number; committed: number }> {
  const clients: ChorusClient[] = [];
  try {
    const ownerToken = await ChorusRest.devToken(gateway, { user_id: 'sdk-0', display_name: 'SDK 0' });
    const owner = new ChorusClient({ url: gateway, token: ownerToken, transport });
    clients.push(owner);
    const { session_id } = await owner.rest.createSession({ name: 'sdk bench' });
    const invite = await owner.rest.createInvite(session_id, { role: 'editor' });
    for (let i = 1; i < SDK_CLIENTS; i++) {
      const token = await ChorusRest.devToken(gateway, { user_id: `sdk-${i}`, display_name: `SDK ${i}` });
      const c = new ChorusClient({ url: gateway, token, transport });
      await c.rest.redeemInvite(invite.code);
      clients.push(c);
    }
    const docs: ChorusDocument[] = [];
    for (const c of clients) {
      await c.connect();
      const s = c.session(session_id);
      await s.join();
      docs.push(await s.document('bench.txt'));
    }
    let applied = 0;
    for (const d of docs) {
      d.on('ack', () => applied++);
      d.on('change', () => applied++);
    }
    const startVersion = docs[0].version;
    progress(`${SDK_CLIENTS} SDK clients editing for ${SDK_SECONDS} s`);
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    const end = t0 + SDK_SECONDS * 1_000;
    // Each client edits every 25 ms (40 edits/s, under the gateway's 50 ops/s per connection): with one op in flight,
    // edits made while it waits are composed into the next op.
    let n = 0;
    const edit = (d: ChorusDocument) => {
      const length = d.text.length;
      const pos = Math.floor((n++ * 7919) % (length + 1));
      d.edit(length > 2_000 ? [{ d: d.text.slice(0, 1) }] : pos > 0 ? [pos, 'x'] : ['x']);
    };
    const timers = docs.map((d) => setInterval(() => edit(d), EDIT_EVERY_MS));
    await sleep(end - Date.now());
    for (const t of timers) clearInterval(t);
    const deadline = Date.now() + 15_000;
    const settled = () => docs.every((d) => !d.pending && d.version === docs[0].version && d.text === docs[0].text);
    while (!settled()) {
      if (Date.now() > deadline) throw new Error(`the SDK clients did not converge within 15 s: versions ${docs.map((d) => d.version).join(', ')}`);
      await sleep(20);
    }
    const seconds = (Date.now() - t0) / 1_000;
    const cpu = process.cpuUsage(cpu0);
    const committed = docs[0].version - startVersion;
    return {
      clients: SDK_CLIENTS,
      ops_per_s: round(committed / seconds, 0),
      cpu_us_per_op: round((cpu.user + cpu.system) / Math.max(1, applied), 1),
      ops_applied: applied,
      committed,
    };
  } finally {
    for (const c of clients) c.close();
  }
}

async function main(): Promise<void> {
  const calibration = cpuCalibrationMs();
  progress('building the app and starting 2 gateways + 1 replica of each service');
  const webDir = await ensureWebBuild();
  const cluster = await startProcessCluster('bench_client', { gateways: 2, replicas: 1, extraEnv: { WEB_APP: 'true', WEB_APP_DIR: webDir, CORS_ORIGINS: '*' } });
  try {
    const browser = PART === 'sdk' ? null : await browserBench(cluster.gateways);
    if (browser) printTable('browser: keystroke → rendered in another tab', [{ typists: browser.typists, samples: browser.samples, p50_ms: browser.keystroke_to_remote_render_p50_ms, p99_ms: browser.p99_ms, max_ms: browser.max_ms, goal_p99_ms: 50 }]);
    const sdk = await sdkBench(cluster.gateways[0]);
    // The same over /ws (the ws package): the SDK's own cost without socket.io-client and engine.io, same run.
    const sdkWs = await sdkBench(cluster.gateways[0], { kind: 'websocket', WebSocket });
    printTable('sdk_node: one document, one op in flight per client', [
      { transport: 'socket.io', clients: sdk.clients, committed: sdk.committed, ops_per_s: sdk.ops_per_s, ops_applied: sdk.ops_applied, cpu_us_per_op: sdk.cpu_us_per_op, goal_cpu_us: 30 },
      { transport: '/ws', clients: sdkWs.clients, committed: sdkWs.committed, ops_per_s: sdkWs.ops_per_s, ops_applied: sdkWs.ops_applied, cpu_us_per_op: sdkWs.cpu_us_per_op, goal_cpu_us: 30 },
    ]);
    writeResult('client', { browser, sdk_node: sdk, sdk_node_ws: sdkWs, cpu_calibration_ms: calibration });
  } finally {
    await cluster.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
