import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { withDeadline } from '@chorus/testing';

const ROOT = path.resolve(__dirname, '../../../..');
const REPLICA = path.join(__dirname, 'work-replica.main.ts');

export interface ReplicaProcess {
  child: ChildProcess;
  consumer: string;
}

/**
 * Child processes of a test file. Every one is tracked so `killAll()` in afterAll ends them even when a
 * test failed half-way.
 */
export class Children {
  private readonly all: ChildProcess[] = [];

  /** Starts a replica of the work service; resolves when it listens (its READY line), with its consumer. */
  async replica(env: Record<string, string>): Promise<ReplicaProcess> {
    const child = spawn(process.execPath, ['-r', 'reflect-metadata', '-r', '@swc-node/register', REPLICA], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.all.push(child);
    let output = '';
    const ready = new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /READY (\S+)/.exec(output);
        if (match) resolve(match[1]);
      });
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code, signal) => reject(new Error(`replica exited (${code ?? signal}) before READY:\n${output}`)));
    });
    const consumer = await withDeadline('a replica process to start', ready, 20_000);
    return { child, consumer };
  }

  /** Any other child (a private redis-server), tracked for cleanup. */
  track(child: ChildProcess): ChildProcess {
    this.all.push(child);
    return child;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.map((child) => kill(child)));
  }
}

export async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** A TCP port the OS says is free right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
