// npm run bench:session-admin — session management on the real Postgres, at the service layer (no transport):
//   discover_first:  the first page (20) of public discovery, newest first, among N public sessions
//   discover_deep:   the page after `DEEP` rows, reached by the keyset cursor — vs the same page by OFFSET
//                    (the baseline a naive implementation would use), both measured in this run
//   discover_search: a name search (q) over the same sessions
//   audit_export:    reading a session's whole audit trail (`auditPage` pages of 2,000 until the head)
// BENCH_QUICK=1 runs a short version. Writes bench/results/session-admin.json.
import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { outboundCodec, type OutboundMessage } from '@chorus/contracts';
import { dataSourceOptions, runMigrations } from '@chorus/database';
import { MemoryFanout } from '@chorus/fanout';
import { createTestDatabase } from '@chorus/testing';
import { SESSION_DATA_SOURCE } from '../apps/session/src/persistence/session.data-source';
import { SessionEventLog } from '../apps/session/src/events/event-log';
import { SessionEventPublisher } from '../apps/session/src/events/event-publisher';
import { AuditTrail } from '../apps/session/src/sessions/audit-trail';
import { SessionAdminService } from '../apps/session/src/sessions/session-admin.service';
import { percentile, printTable, progress, round, writeResult } from './lib/report';

const QUICK = process.env.BENCH_QUICK === '1';
const SESSIONS = QUICK ? 5_000 : 50_000;
const DEEP = QUICK ? 4_000 : 40_000;
const EVENTS = QUICK ? 10_000 : 100_000;
const ROUNDS = QUICK ? 30 : 100;
const ALICE = { user_id: 'alice', display_name: 'Alice', kind: 'human' as const };

async function timed(rounds: number, work: () => Promise<unknown>): Promise<{ p50_ms: number; p99_ms: number }> {
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await work();
    samples.push(performance.now() - t0);
  }
  return { p50_ms: round(percentile(samples, 50)), p99_ms: round(percentile(samples, 99)) };
}

async function main(): Promise<void> {
  progress('creating a fresh database and migrating');
  const db = await createTestDatabase('bench_session_admin');
  const ds = new DataSource(dataSourceOptions(SESSION_DATA_SOURCE, db.url, 4));
  try {
    await runMigrations(SESSION_DATA_SOURCE, db.url);
    await ds.initialize();
    const logger = new Logger('bench');
    const log = new SessionEventLog(ds, { logger });
    const publisher = new SessionEventPublisher(new MemoryFanout<OutboundMessage>(outboundCodec, () => undefined), 'bench', logger);
    const admin = new SessionAdminService(ds, log, publisher, new AuditTrail(log, publisher, logger));

    progress(`${SESSIONS} public sessions`);
    // Distinct creation times (one per second, back from now), names with a searchable word in 1 of 10.
    await ds.query(
      `INSERT INTO sessions (name, owner_id, is_public, created_at)
       SELECT CASE WHEN g % 10 = 0 THEN 'rust parser ' || g ELSE 'session ' || g END, 'owner-' || (g % 100), true, now() - make_interval(secs => g)
       FROM generate_series(1, $1) g`,
      [SESSIONS],
    );
    await ds.query('ANALYZE sessions');
    // The cursor of the page after DEEP rows, as a client paging through would hold it.
    const [deepRow] = (await ds.query(`SELECT created_at::text AS ts, id FROM sessions WHERE is_public ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1`, [DEEP - 1])) as Array<{ ts: string; id: string }>;
    const cursor = Buffer.from(JSON.stringify([deepRow.ts, deepRow.id])).toString('base64url');

    const first = await timed(ROUNDS, () => admin.discover(ALICE, { limit: 20 }));
    const deep = await timed(ROUNDS, () => admin.discover(ALICE, { limit: 20, cursor }));
    const offset = await timed(ROUNDS, () =>
      ds.query(
        `SELECT s.*, (SELECT count(*) FROM participants p WHERE p.session_id = s.id) AS participant_count FROM sessions s
         WHERE s.is_public AND s.deleted_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now())
         ORDER BY s.created_at DESC, s.id DESC OFFSET $1 LIMIT 21`,
        [DEEP],
      ),
    );
    const search = await timed(ROUNDS, () => admin.discover(ALICE, { q: 'rust', limit: 20 }));

    progress(`one session with ${EVENTS} events`);
    const [{ id: sid }] = (await ds.query(`INSERT INTO sessions (name, owner_id, last_seq) VALUES ('audited', 'alice', $1) RETURNING id`, [EVENTS])) as Array<{ id: string }>;
    await ds.query(`INSERT INTO participants (session_id, user_id, display_name, kind, role) VALUES ($1, 'alice', 'Alice', 'human', 'owner')`, [sid]);
    await ds.query(
      `INSERT INTO session_events (session_id, seq, type, actor, payload)
       SELECT $1, g, 'access_refused', 'mallory', jsonb_build_object('user_id', 'mallory', 'action', 'submit_op', 'code', 'PERMISSION_DENIED', 'reason', 'Role "viewer" may not document edit', 'resource', 'src/' || g || '.ts')
       FROM generate_series(1, $2) g`,
      [sid, EVENTS],
    );
    const exportRounds = QUICK ? 3 : 5;
    let exported = 0;
    const audit = await timed(exportRounds, async () => {
      exported = 0;
      let after = 0;
      for (;;) {
        const page = await admin.auditPage(ALICE, sid, { format: 'jsonl', after_seq: after });
        exported += page.events.length;
        for (const e of page.events) JSON.stringify(e);
        if (page.next_after_seq === null) break;
        after = page.next_after_seq;
      }
    });

    const rows = [
      { scenario: `discover_first (${SESSIONS} public)`, p50_ms: first.p50_ms, p99_ms: first.p99_ms, note: '' },
      { scenario: `discover_deep keyset (after ${DEEP})`, p50_ms: deep.p50_ms, p99_ms: deep.p99_ms, note: `${round(offset.p50_ms / Math.max(deep.p50_ms, 0.01), 1)}× faster than OFFSET` },
      { scenario: `baseline OFFSET ${DEEP}`, p50_ms: offset.p50_ms, p99_ms: offset.p99_ms, note: 'same run' },
      { scenario: 'discover_search (q=rust)', p50_ms: search.p50_ms, p99_ms: search.p99_ms, note: '' },
      { scenario: `audit_export (${EVENTS} events)`, p50_ms: audit.p50_ms, p99_ms: audit.p99_ms, note: `${round(exported / (audit.p50_ms / 1000), 0)} events/s` },
    ];
    printTable('session management (service layer, real Postgres)', rows);
    writeResult('session-admin', { sessions: SESSIONS, deep: DEEP, events: EVENTS, rounds: ROUNDS, first, deep_keyset: deep, deep_offset: offset, search, audit_export: { ...audit, events: exported } });
  } finally {
    await ds.destroy().catch(() => undefined);
    await db.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
