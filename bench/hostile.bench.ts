// npm run bench:hostile — the honest user's latency under the hostile-input fuzz (issue 11's goal: p99 within
// 2× its baseline), at two attack intensities: 3 and 10 attacking users (2 sockets each, every socket at its
// full message budgets). Each runs test/fuzz/hostile-input.e2e-spec.ts (the fuzz and its checks) and reads the
// figures it writes. Writes bench/results/hostile.json.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuCalibrationMs, printTable, progress, writeResult } from './lib/report';

interface FuzzFigures {
  violations: number;
  seconds: number;
  socket_messages: number;
  rest_requests: number;
  server_event_loop_delay_ms: { p99: number; max: number };
  honest: { baseline_acks: number; baseline_p99_ms: number; attack_acks: number; attack_p50_ms: number; attack_p99_ms: number; p99_ratio: number };
}

function run(attackers: number, dir: string): FuzzFigures {
  const file = join(dir, `hostile-${attackers}.json`);
  progress(`${attackers} attacking users × 2 sockets: running the fuzz (about a minute)`);
  const result = spawnSync(process.execPath, [require.resolve('jest/bin/jest'), 'test/fuzz/hostile-input'], {
    cwd: join(__dirname, '..'),
    env: { ...process.env, FUZZ_ATTACKERS: String(attackers), FUZZ_RESULT_FILE: file },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) progress(`the fuzz reported failures at ${attackers} attackers (see above); its figures are kept`);
  return JSON.parse(readFileSync(file, 'utf8')) as FuzzFigures;
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'bench-hostile-'));
  const calibrationStart = cpuCalibrationMs();
  const runs = [3, 10].map((attackers) => ({ attackers, ...run(attackers, dir) }));
  const calibrationEnd = cpuCalibrationMs();
  printTable(
    'Honest user under attack (goal: p99 within 2× its baseline)',
    runs.map((r) => ({
      attackers: `${r.attackers} × 2`,
      violations: r.violations,
      'attack s': r.seconds,
      'honest acks': r.honest.attack_acks,
      'baseline p99 ms': r.honest.baseline_p99_ms,
      'attack p50 ms': r.honest.attack_p50_ms,
      'attack p99 ms': r.honest.attack_p99_ms,
      ratio: r.honest.p99_ratio,
      goal: r.honest.p99_ratio <= 2 ? 'met' : 'missed',
    })),
  );
  writeResult('hostile', { goal_p99_ratio: 2, runs, cpu_calibration_ms: { start: calibrationStart, end: calibrationEnd } });
}

main();
