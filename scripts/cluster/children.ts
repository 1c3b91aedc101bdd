import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './env-files';

const COLORS = [36, 33, 35, 32, 34, 91, 96, 93, 95, 92];
let colorIndex = 0;

export type AppRoleName = 'gateway' | 'session' | 'presence' | 'conflict';

export interface AppProcess {
  readonly name: string;
  readonly role: AppRoleName;
  readonly port: number | undefined;
  readonly child: ChildProcess;
  /** Resolves with the exit code (a signal death counts as 128 + its number, like a shell). */
  readonly exited: Promise<number>;
  exitCode: number | undefined;
  ready: boolean;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * The command that runs one app. From TypeScript by default (SWC transpiles on load, no build step), or
 * from dist/ with fromDist (after `npm run build`: faster start, exactly what the image runs).
 */
export function appCommand(role: AppRoleName, fromDist: boolean): string[] {
  if (fromDist) {
    const main = join(REPO_ROOT, 'dist', 'apps', role, 'src', 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first, or unset CLUSTER_FROM_DIST`);
    return [main];
  }
  return ['-r', '@swc-node/register', join(REPO_ROOT, 'apps', role, 'src', 'main.ts')];
}

/**
 * Starts one app with exactly `env` (plus PATH/HOME), each output line prefixed with its name. Detached: a
 * Ctrl-C in the terminal reaches only the orchestrator, which then stops the apps in order; otherwise every
 * app would get the SIGINT too and our SIGTERM would count as a second signal (exit at once, code 1).
 */
export function startApp(name: string, role: AppRoleName, port: number | undefined, argv: string[], env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, argv, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const color = COLORS[colorIndex++ % COLORS.length];
  const prefix = process.stdout.isTTY ? `\x1b[${color}m${name.padEnd(16)}\x1b[0m | ` : `${name.padEnd(16)} | `;
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`${prefix}${line}\n`);
    });
    stream?.on('end', () => partial && process.stdout.write(`${prefix}${partial}\n`));
  }
  const proc: AppProcess = {
    name,
    role,
    port,
    child,
    exitCode: undefined,
    ready: false,
    exited: new Promise<number>((resolve) => {
      child.once('error', () => resolve(127));
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (SIGNAL_NUMBERS[signal] ?? 0) : 0)));
    }),
  };
  void proc.exited.then((code) => {
    proc.exitCode = code;
    proc.ready = false;
  });
  return proc;
}

/** SIGTERM, then SIGKILL if the app has not exited after `killAfterMs` (its own drain budget plus a margin). */
export async function stopApp(p: AppProcess, killAfterMs: number): Promise<number> {
  if (p.exitCode !== undefined) return p.exitCode;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), killAfterMs);
  try {
    return await p.exited;
  } finally {
    clearTimeout(timer);
  }
}
