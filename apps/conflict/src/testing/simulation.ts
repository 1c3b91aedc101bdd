import { ChorusError } from '@chorus/protocol';
import type { ConflictService } from '../conflict.service';
import type { Caller, SubmitResult } from '../documents/document.types';
import { OtClient, type OutgoingSubmit } from './ot-client';
import { randomEdit, rng } from './random-edit';

// Many simulated clients editing one document through several conflict replicas (service instances, each
// with its own pool), with random network delays, out-of-order delivery, and optionally a replica that dies
// mid-run (its answers lost after commit). Everything a gateway would do is simulated in-process: acks go to
// the submitter, committed ops are broadcast to everyone else, gaps are repaired with fetch_ops, and a submit
// whose answer was lost is resent with the same seq to another replica.

export interface SimReplica {
  readonly name: string;
  readonly service: ConflictService;
  /** Called when the replica is killed (e.g. destroy its DataSource). */
  readonly kill?: () => Promise<void>;
}

export interface SimulationOptions {
  readonly sessionId: string;
  readonly docId: string;
  readonly replicas: readonly SimReplica[];
  readonly clients: number;
  readonly editsPerClient: number;
  /** Each edit waits 0..maxEditDelayMs; each delivery 0..maxNetworkDelayMs. */
  readonly maxEditDelayMs: number;
  readonly maxNetworkDelayMs: number;
  readonly seed: number;
  /** Kill replicas[0] once this many submits have been answered. */
  readonly killFirstReplicaAfter?: number;
}

export interface SimulationReport {
  readonly clients: ReadonlyArray<{ id: string; text: string; version: number; acked: ReadonlyMap<number, number> }>;
  readonly submits: number;
  readonly resends: number;
  readonly lostAnswers: number;
  readonly duplicates: number;
  readonly conflicts: number;
  readonly gapFetches: number;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function simulateEditing(opts: SimulationOptions): Promise<SimulationReport> {
  const random = rng(opts.seed);
  const alive = opts.replicas.map(() => true);
  const stats = { submits: 0, resends: 0, lostAnswers: 0, duplicates: 0, conflicts: 0, gapFetches: 0, answered: 0 };
  const failures: unknown[] = [];
  const clients: OtClient[] = [];
  const callers: Caller[] = [];
  const fetching = new Set<number>();

  const pickReplica = (i: number): number => {
    const live = opts.replicas.map((_, k) => k).filter((k) => alive[k]);
    return live[(i + Math.floor(random() * live.length)) % live.length];
  };

  const repairGap = (i: number): void => {
    if (fetching.has(i) || !clients[i].hasGap()) return;
    fetching.add(i);
    void (async () => {
      try {
        await delay(5 + opts.maxNetworkDelayMs); // give in-flight deliveries a chance first
        while (clients[i].hasGap()) {
          stats.gapFetches += 1;
          const page = await opts.replicas[pickReplica(i)].service.fetchOps(callers[i], { session_id: opts.sessionId, doc_id: opts.docId, from_version: clients[i].version });
          for (const op of page.ops) clients[i].receiveOp(op);
          if (page.ops.length === 0) break;
        }
      } catch (err) {
        failures.push(err);
      } finally {
        fetching.delete(i);
      }
    })();
  };

  const deliver = (i: number, fn: () => void): void => {
    setTimeout(() => {
      try {
        fn();
        repairGap(i);
      } catch (err) {
        failures.push(err);
      }
    }, Math.floor(random() * (opts.maxNetworkDelayMs + 1)));
  };

  const onResult = (i: number, result: SubmitResult): void => {
    if (result.duplicate) stats.duplicates += 1;
    stats.conflicts += result.conflicts.length;
    deliver(i, () => clients[i].receiveAck(result.ack));
    clients.forEach((_, k) => k !== i && deliver(k, () => clients[k].receiveOp(result.broadcast)));
  };

  const submit = (i: number, s: OutgoingSubmit): void => {
    const r = pickReplica(i);
    stats.submits += 1;
    void opts.replicas[r].service.submitOp(callers[i], { session_id: opts.sessionId, ...s }).then(
      (result) => {
        stats.answered += 1;
        maybeKill();
        if (!alive[r]) {
          stats.lostAnswers += 1; // the replica died: its answer never leaves it
          return resend(i);
        }
        onResult(i, result);
      },
      (err: unknown) => {
        stats.answered += 1;
        if (!alive[r] || (err instanceof ChorusError && err.code === 'UNAVAILABLE')) return resend(i);
        failures.push(err);
      },
    );
  };

  const resend = (i: number): void => {
    const again = clients[i].resendable();
    if (!again) return;
    stats.resends += 1;
    setTimeout(() => submit(i, again), 1 + Math.floor(random() * 5));
  };

  const maybeKill = (): void => {
    if (opts.killFirstReplicaAfter === undefined || !alive[0] || stats.answered < opts.killFirstReplicaAfter) return;
    // From now on every answer of replica 0 is lost, also for transactions that still commit (the process "died"
    // between COMMIT and reply); a moment later its pool is destroyed under whatever is still queued.
    alive[0] = false;
    setTimeout(() => void opts.replicas[0].kill?.().catch((err: unknown) => failures.push(err)), 20);
  };

  const initial = await opts.replicas[0].service.openDocument({ user_id: 'u0', client_id: 'c0', role: 'viewer' }, { session_id: opts.sessionId, doc_id: opts.docId });
  for (let i = 0; i < opts.clients; i++) {
    callers.push({ user_id: `user-${i}`, client_id: `client-${i}-${opts.seed}`, role: i % 5 === 4 ? 'agent' : 'editor' });
    clients.push(new OtClient(callers[i].client_id, opts.docId, initial, (s) => submit(i, s)));
  }

  await Promise.all(
    clients.map(async (client, i) => {
      const own = rng(opts.seed * 1_000 + i);
      for (let e = 0; e < opts.editsPerClient; e++) {
        await delay(Math.floor(own() * (opts.maxEditDelayMs + 1)));
        if (failures.length > 0) return;
        client.edit(randomEdit(client.text, own));
      }
    }),
  );

  const deadline = Date.now() + 60_000;
  while (!clients.every((c) => c.isSettled()) && failures.length === 0) {
    if (Date.now() > deadline) throw new Error('simulation: clients did not settle within 60 s');
    await delay(10);
  }
  if (failures.length > 0) throw failures[0];
  // Final catch-up (broadcasts may still be in flight): every client reads up to head.
  for (let i = 0; i < clients.length; i++) {
    for (;;) {
      const page = await opts.replicas[pickReplica(i)].service.fetchOps(callers[i], { session_id: opts.sessionId, doc_id: opts.docId, from_version: clients[i].version });
      for (const op of page.ops) clients[i].receiveOp(op);
      if (page.ops.length === 0) break;
    }
  }
  if (failures.length > 0) throw failures[0];
  return {
    clients: clients.map((c) => ({ id: c.clientId, text: c.text, version: c.version, acked: c.acked })),
    submits: stats.submits,
    resends: stats.resends,
    lostAnswers: stats.lostAnswers,
    duplicates: stats.duplicates,
    conflicts: stats.conflicts,
    gapFetches: stats.gapFetches,
  };
}
