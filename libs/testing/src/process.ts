import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { waitFor } from './wait';

const ROOT = resolve(__dirname, '..', '..', '..');

export interface RunningProcess {
  readonly child: ChildProcess;
  /** Every line written to stdout and stderr so far. */
  readonly lines: string[];
  /** Waits for an output line matching `pattern` and returns its match. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` and resolves with the exit code (null if killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  readonly exited: Promise<number | null>;
  /** Writes to the child's stdin (e.g. a start signal that releases several processes at once). */
  write(text: string): void;
}

/**
 * Runs a TypeScript entry of this repository in its own Node process (transpiled on the fly by SWC, with
 * the `@chorus/*` aliases), e.g. an app's main.ts. `env` is added to a minimal environment: the child never
 * inherits the test runner's variables by accident. CHORUS_CHILD_NODE_ARGS, if set, is added to the child's Node
 * arguments (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the replicas of a benchmark).
 */
export function startTsProcess(entry: string, env: Record<string, string>, args: readonly string[] = []): RunningProcess {
  return startCommand(process.execPath, [...childNodeArgs(), '-r', '@swc-node/register', resolve(ROOT, entry), ...args], env, ROOT, entry);
}

/**
 * Runs a command (e.g. `npx chorus-sync …`) in `cwd` (default: the repository) with the same minimal environment
 * (PATH, HOME, NODE_ENV=test, plus `env`) and the same line capture as startTsProcess.
 */
export function startCommand(command: string, args: readonly string[], env: Record<string, string>, cwd = ROOT, entry = command): RunningProcess {
  const child = spawn(command, [...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
    });
  }
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  return {
    child,
    lines,
    exited,
    write(text) {
      child.stdin?.write(text);
    },
    async waitForLine(pattern, timeoutMs = 30_000) {
      // Fails at once when the process exits without printing the line (not after the whole timeout).
      const found = await waitFor(
        `a line matching ${pattern} from ${entry}`,
        () => {
          for (const line of lines) {
            const m = line.match(pattern);
            if (m) return { match: m };
          }
          return child.exitCode !== null || child.signalCode !== null ? { match: null } : undefined;
        },
        { timeoutMs, intervalMs: 25 },
      );
      if (!found.match) throw new Error(`${entry} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${lines.slice(-20).join('\n')}`);
      return found.match;
    },
    async stop(signal = 'SIGTERM', timeoutMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function childNodeArgs(): string[] {
  return (process.env.CHORUS_CHILD_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
}
