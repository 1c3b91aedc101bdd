import { firstValueFrom } from 'rxjs';
import { documentKey, type ConflictApi } from '@chorus/contracts';
import { ordered, TransportError, type RedisStreamsClient } from '@chorus/transport';
import type { Caller, SubmitResult } from '../documents/document.types';
import { OtClient, type OutgoingSubmit } from './ot-client';
import { randomEdit, rng } from './random-edit';

// Simulated editors on one document, through the Redis Streams transport to conflict replicas running as
// separate processes. This file plays the gateway: `op.submit` goes out with the document's ordering key
// (libs/contracts), the ack goes back to its submitter and the committed op to every other client after a
// random delay (out-of-order delivery), gaps are repaired with `ops.fetch`, and a submit answered UNAVAILABLE
// (deadline passed, e.g. its replica died) or DEAD_LETTER is resent with the same seq — dedupe makes that safe.
//
// Each client makes its next edit only once its previous one is acknowledged (after a random pause), so every
// edit is exactly one op and the document ends at version clients × edits: a gap or a double apply shows.

export interface TransportSimulationOptions {
  readonly client: RedisStreamsClient;
  readonly sessionId: string;
  readonly docId: string;
  readonly clients: number;
  readonly editsPerClient: number;
  readonly maxEditDelayMs: number;
  readonly maxNetworkDelayMs: number;
  readonly seed: number;
  /** Called after every answered submit with the count so far (e.g. to kill a replica mid-run). */
  readonly onAnswered?: (answered: number) => void;
  /** Deadline for the whole run. */
  readonly timeoutMs: number;
}

export interface TransportSimulationReport {
  readonly clients: ReadonlyArray<{ id: string; text: string; version: number; acked: ReadonlyMap<number, number>; lastSeq: number }>;
  readonly submits: number;
  readonly resends: number;
  readonly duplicates: number;
  readonly conflicts: number;
  readonly gapFetches: number;
  readonly errors: Readonly<Record<string, number>>;
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function simulateOverTransport(opts: TransportSimulationOptions): Promise<TransportSimulationReport> {
  const random = rng(opts.seed);
  const stats = { submits: 0, resends: 0, duplicates: 0, conflicts: 0, gapFetches: 0, answered: 0 };
  const errors: Record<string, number> = {};
  const failures: unknown[] = [];
  const clients: OtClient[] = [];
  const callers: Caller[] = [];
  const lastSeq: number[] = [];
  const settledWaiters: Array<(() => void) | undefined> = [];
  const fetching = new Set<number>();
  const deadline = Date.now() + opts.timeoutMs;

  const send = <P extends keyof ConflictApi>(pattern: P, req: ConflictApi[P]['req'], key?: string): Promise<ConflictApi[P]['res']> =>
    firstValueFrom(opts.client.send<ConflictApi[P]['res']>(pattern, key === undefined ? req : ordered(key, req)));

  const fail = (err: unknown): void => {
    failures.push(err);
    settledWaiters.forEach((w) => w?.());
  };

  const afterDelivery = (i: number): void => {
    if (clients[i].isSettled()) {
      const waiter = settledWaiters[i];
      settledWaiters[i] = undefined;
      waiter?.();
    }
    repairGap(i);
  };

  const fetchUpToHead = async (i: number): Promise<void> => {
    for (;;) {
      const page = await send('ops.fetch', { caller: callers[i], payload: { session_id: opts.sessionId, doc_id: opts.docId, from_version: clients[i].version } });
      for (const op of page.ops) clients[i].receiveOp(op);
      if (page.ops.length === 0 || clients[i].version >= page.head) return;
    }
  };

  const repairGap = (i: number): void => {
    if (fetching.has(i) || !clients[i].hasGap()) return;
    fetching.add(i);
    void (async () => {
      try {
        await delay(5 + opts.maxNetworkDelayMs); // give deliveries in flight a chance first
        if (clients[i].hasGap()) {
          stats.gapFetches += 1;
          await fetchUpToHead(i);
        }
        afterDelivery(i);
      } catch (err) {
        fail(err);
      } finally {
        fetching.delete(i);
      }
    })();
  };

  const deliver = (i: number, fn: () => void): void => {
    setTimeout(() => {
      try {
        fn();
        afterDelivery(i);
      } catch (err) {
        fail(err);
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
    stats.submits += 1;
    lastSeq[i] = Math.max(lastSeq[i], s.seq);
    send('op.submit', { caller: callers[i], payload: { session_id: opts.sessionId, ...s } }, documentKey(opts.sessionId, opts.docId)).then(
      (result) => {
        stats.answered += 1;
        opts.onAnswered?.(stats.answered);
        onResult(i, result);
      },
      (err: unknown) => {
        stats.answered += 1;
        const code = err instanceof TransportError ? err.code : 'thrown';
        errors[code] = (errors[code] ?? 0) + 1;
        // Retryable: the request's deadline passed (its replica died, or it waited behind a failover) or it
        // was dead-lettered after too many deliveries. The same seq again: applied at most once.
        if (code === 'UNAVAILABLE' || code === 'DEAD_LETTER') return resend(i);
        fail(err);
      },
    );
  };

  const resend = (i: number): void => {
    const again = clients[i].resendable();
    if (!again) return;
    stats.resends += 1;
    setTimeout(() => submit(i, again), 1 + Math.floor(random() * 5));
  };

  const initial = await send('document.open', { caller: { user_id: 'u0', client_id: 'c0', role: 'viewer' }, payload: { session_id: opts.sessionId, doc_id: opts.docId } });
  for (let i = 0; i < opts.clients; i++) {
    callers.push({ user_id: `user-${i}`, client_id: `client-${i}-${opts.seed}`, role: i % 5 === 4 ? 'agent' : 'editor' });
    lastSeq.push(0);
    settledWaiters.push(undefined);
    clients.push(new OtClient(callers[i].client_id, opts.docId, initial, (s) => submit(i, s)));
  }

  const settled = (i: number): Promise<void> =>
    clients[i].isSettled() || failures.length > 0 ? Promise.resolve() : new Promise<void>((resolve) => (settledWaiters[i] = resolve));

  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`transport simulation did not finish within ${opts.timeoutMs} ms (${stats.answered} answers, errors ${JSON.stringify(errors)})`)), Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([
      timedOut,
      Promise.all(
        clients.map(async (client, i) => {
          const own = rng(opts.seed * 1_000 + i);
          for (let e = 0; e < opts.editsPerClient && failures.length === 0; e++) {
            await delay(Math.floor(own() * (opts.maxEditDelayMs + 1)));
            client.edit(randomEdit(client.text, own));
            await settled(i);
          }
        }),
      ),
    ]);
    if (failures.length > 0) throw failures[0];
    // Final catch-up (broadcasts may still be in flight): every client reads up to head.
    await Promise.race([timedOut, Promise.all(clients.map((_, i) => fetchUpToHead(i)))]);
  } finally {
    clearTimeout(timer);
  }
  if (failures.length > 0) throw failures[0];
  return {
    clients: clients.map((c, i) => ({ id: c.clientId, text: c.text, version: c.version, acked: c.acked, lastSeq: lastSeq[i] })),
    submits: stats.submits,
    resends: stats.resends,
    duplicates: stats.duplicates,
    conflicts: stats.conflicts,
    gapFetches: stats.gapFetches,
    errors,
  };
}
