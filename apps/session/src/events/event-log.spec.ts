import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { startTsProcess, type RunningProcess } from '@chorus/testing';
import { registerSessionMetrics } from '../session.metrics';
import { migratedSessionDatabase } from '../testing/session-db';
import { SessionEventLog, type NewSessionEvent, type StoredSessionEvent } from './event-log';

let env: Awaited<ReturnType<typeof migratedSessionDatabase>>;
let ds: DataSource;
const workers: RunningProcess[] = [];

beforeAll(async () => {
  env = await migratedSessionDatabase('event_log');
  ds = env.ds;
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  await env.close();
});

/** A chat message saying `message`: any durable event would do, this one carries a text to tell them apart. */
function chat(message: string): NewSessionEvent {
  return { type: 'chat_message', actor: 'u', payload: { peer_id: 'p', user_id: 'u', display_name: 'U', message } };
}

function text(e: StoredSessionEvent): string {
  if (e.type !== 'chat_message') throw new Error(`expected a chat_message, got ${e.type}`);
  return e.payload.message;
}

async function newSession(): Promise<string> {
  const rows = (await ds.query(`INSERT INTO sessions (name, owner_id) VALUES ('t', 'u') RETURNING id`)) as Array<{ id: string }>;
  return rows[0].id;
}

describe('session event stream', () => {
  it('gives 3 replicas appending 500 events each, concurrently, exactly the seqs 1..1500', async () => {
    const sessionId = await newSession();
    for (const name of ['r1', 'r2', 'r3']) workers.push(startTsProcess('apps/session/src/testing/append-worker.ts', { }, [env.db.url, sessionId, '500', name]));
    await Promise.all(workers.map((w) => w.waitForLine(/^ready$/)));
    workers.forEach((w) => w.write('go\n'));
    const results = await Promise.all(workers.map(async (w) => JSON.parse((await w.waitForLine(/^\{.*"seqs".*\}$/, 60_000))[0]) as { worker: string; seqs: number[] }));
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0]);

    // What each replica was told, and what the database holds, are both exactly 1..1500.
    const acknowledged = results.flatMap((r) => r.seqs).sort((a, b) => a - b);
    const expected = Array.from({ length: 1500 }, (_, i) => i + 1);
    expect(acknowledged).toEqual(expected);
    const stored = ((await ds.query(`SELECT seq FROM session_events WHERE session_id = $1 ORDER BY seq`, [sessionId])) as Array<{ seq: string }>).map((r) => Number(r.seq));
    expect(stored).toEqual(expected);
    const head = (await ds.query(`SELECT last_seq FROM sessions WHERE id = $1`, [sessionId])) as Array<{ last_seq: string }>;
    expect(Number(head[0].last_seq)).toBe(1500);
    // Every replica really took part, and each one's events are in its own submission order.
    for (const r of results) {
      const mine = (await ds.query(`SELECT seq, payload FROM session_events WHERE session_id = $1 AND actor = $2 ORDER BY seq`, [sessionId, r.worker])) as Array<{ payload: { message: string } }>;
      expect(mine.map((m) => Number(m.payload.message))).toEqual(Array.from({ length: 500 }, (_, i) => i));
    }
  }, 90_000);

  it('rolls back the seq of an event whose transaction fails: no gap', async () => {
    const sessionId = await newSession();
    const log = new SessionEventLog(ds);
    await log.append(sessionId, chat('a'));
    await expect(
      ds.transaction(async (tx) => {
        await log.appendInTransaction(tx, sessionId, [chat('b')]);
        throw new Error('handler failed after appending');
      }),
    ).rejects.toThrow('handler failed');
    const next = await log.append(sessionId, chat('c'));
    expect(next.seq).toBe(2);
    expect((await log.read(sessionId, 0, 10)).map((e) => [e.seq, text(e)])).toEqual([[1, 'a'], [2, 'c']]);
  });

  it('refuses appends to an unknown or deleted session with NOT_FOUND, failing every caller of the batch', async () => {
    const log = new SessionEventLog(ds);
    const missing = '00000000-0000-4000-8000-000000000000';
    const results = await Promise.allSettled([1, 2, 3].map(() => log.append(missing, chat('x'))));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('commits appends to many sessions in one flush and fails only the callers of a missing session', async () => {
    const log = new SessionEventLog(ds, { maxParallel: 1 });
    const sessions = await Promise.all([newSession(), newSession(), newSession()]);
    const missing = '00000000-0000-4000-8000-000000000001';
    const targets = [...sessions, missing, ...sessions, missing, ...sessions];
    const results = await Promise.allSettled(targets.map((sid, i) => log.append(sid, chat(String(i)))));
    results.forEach((r, i) => expect({ i, status: r.status }).toEqual({ i, status: targets[i] === missing ? 'rejected' : 'fulfilled' }));
    for (const sid of sessions) {
      const stored = await log.read(sid, 0, 10);
      expect(stored.map((e) => e.seq)).toEqual([1, 2, 3]);
      // Per session, seqs follow call order.
      expect(stored.map((e) => Number(text(e)))).toEqual(targets.flatMap((t, i) => (t === sid ? [i] : [])));
    }
  });

  it('keeps audit rows append-only: the database refuses an UPDATE', async () => {
    const sessionId = await newSession();
    await new SessionEventLog(ds).append(sessionId, chat('a'));
    await expect(ds.query(`UPDATE session_events SET type = 'forged' WHERE session_id = $1`, [sessionId])).rejects.toThrow(/append-only/);
  });
});

describe('dedupe keys', () => {
  it('stores a key once within one flush and across flushes, and tells the repeats they were replayed', async () => {
    const sessionId = await newSession();
    const log = new SessionEventLog(ds);
    const batch = await Promise.all([
      log.appendOnce(sessionId, { ...chat('1'), dedupe_key: 'k' }),
      log.appendOnce(sessionId, chat('2')),
      log.appendOnce(sessionId, { ...chat('3'), dedupe_key: 'k' }),
    ]);
    expect(batch.map((a) => [a.event.seq, a.replayed])).toEqual([[1, false], [2, false], [1, true]]);
    const later = await log.appendOnce(sessionId, { ...chat('4'), dedupe_key: 'k' });
    expect(later).toEqual({ event: batch[0].event, replayed: true });
    expect((await log.read(sessionId, 0, 10)).map(text)).toEqual(['1', '2']);
    // The database refuses a second row with the key, whoever writes it.
    await expect(ds.query(`INSERT INTO session_events (session_id, seq, type, actor, dedupe_key) VALUES ($1, 99, 'x', 'u', 'k')`, [sessionId])).rejects.toThrow(/session_events_dedupe_idx/);
  });
});

describe('reading stored rows back', () => {
  /** A LoggerService that keeps what it was told (the log under test reports through it). */
  function recordingLogger() {
    const errors: string[] = [];
    const keep = (message: unknown) => void errors.push(String(message));
    return { errors, logger: { log: () => undefined, warn: () => undefined, error: keep, debug: () => undefined, verbose: () => undefined } };
  }

  /** Rows written past the log (an older release, a manual fix): the stream head is moved with them. */
  async function writeRaw(sessionId: string, rows: Array<{ seq: number; type: string; payload: unknown; dedupe_key?: string }>): Promise<void> {
    for (const r of rows) {
      await ds.query(`INSERT INTO session_events (session_id, seq, type, actor, payload, dedupe_key) VALUES ($1, $2, $3, 'u', $4::jsonb, $5)`, [sessionId, r.seq, r.type, JSON.stringify(r.payload), r.dedupe_key ?? null]);
    }
    await ds.query(`UPDATE sessions SET last_seq = $2 WHERE id = $1`, [sessionId, Math.max(...rows.map((r) => r.seq))]);
  }

  it('parses each row into its typed event, and logs, counts and leaves out a row that is not one', async () => {
    const sessionId = await newSession();
    const { errors, logger } = recordingLogger();
    const log = new SessionEventLog(ds, { logger });
    await writeRaw(sessionId, [
      { seq: 1, type: 'role_changed', payload: { user_id: 'bob', from: 'editor', to: 'viewer' } },
      // A peer_joined without its display name: the old reader turned it into `display_name: ""` on the wire.
      { seq: 2, type: 'peer_joined', payload: { peer_id: 'p', user_id: 'bob', kind: 'human', role: 'editor' } },
      { seq: 3, type: 'not_an_event_type', payload: {} },
      { seq: 4, type: 'role_changed', payload: { user_id: 'bob', from: 'viewer', to: 'sovereign' } },
      { seq: 5, type: 'participant_left', payload: { user_id: 'bob' } },
    ]);
    const events = await log.read(sessionId, 0, 10);
    expect(events.map((e) => [e.seq, e.type])).toEqual([[1, 'role_changed'], [5, 'participant_left']]);
    expect(events[0]).toMatchObject({ session_id: sessionId, actor: 'u', payload: { user_id: 'bob', from: 'editor', to: 'viewer' } });
    expect(log.unreadableCount()).toBe(3);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(new RegExp(`Session ${sessionId}: stored event #2 is unreadable.*display_name`));
    expect(errors[1]).toMatch(/#3 is unreadable.*unknown event type "not_an_event_type"/);
    expect(errors[2]).toMatch(/#4 is unreadable.*bad role_changed payload \(to:/);
    // Read again (a gateway's position check does, every few seconds): left out again, reported once.
    expect((await log.read(sessionId, 1, 10)).map((e) => e.seq)).toEqual([5]);
    expect(log.unreadableCount()).toBe(3);
    expect(errors).toHaveLength(3);
    const registry = new Registry();
    registerSessionMetrics(registry, log);
    expect(await registry.metrics()).toMatch(/^chorus_session_unreadable_events_total 3$/m);
    // Appends go on after the head, whatever the rows before it hold.
    expect((await log.append(sessionId, chat('after'))).seq).toBe(6);
  });

  it('refuses a resend whose stored original is unreadable, appending nothing', async () => {
    const sessionId = await newSession();
    const { errors, logger } = recordingLogger();
    const log = new SessionEventLog(ds, { logger });
    await writeRaw(sessionId, [{ seq: 1, type: 'chat_message', payload: { peer_id: 'p', user_id: 'u', message: 'no name' }, dedupe_key: 'k' }]);
    await expect(log.appendOnce(sessionId, { ...chat('again'), dedupe_key: 'k' })).rejects.toThrow(/#1 of dedupe key k is unreadable/);
    expect(log.unreadableCount()).toBe(1);
    expect(errors).toHaveLength(1);
    const head = (await ds.query(`SELECT last_seq FROM sessions WHERE id = $1`, [sessionId])) as Array<{ last_seq: string }>;
    expect(Number(head[0].last_seq)).toBe(1);
  });
});
