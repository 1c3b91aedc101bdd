import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { applyOp, type TextOp } from '@chorus/ot';
import { ConflictService } from '../conflict.service';
import { readHeadText } from '../persistence/doc.repository';
import { createConflictTestDatabase, type ConflictTestDatabase } from '../testing/conflict-test-db';
import { simulateEditing, type SimReplica, type SimulationReport } from '../testing/simulation';

// Many writers on one hot document through three replicas (each its own pool; one commits without batching),
// random delays, out-of-order delivery, and one replica killed mid-run (answers of committed ops lost, then
// its pool destroyed under in-flight transactions). The multi-process version over the transport reuses
// OtClient (testing/ot-client.ts).

describe('convergence under concurrency (real Postgres, 3 replicas)', () => {
  let db: ConflictTestDatabase;
  let observer: DataSource;

  beforeAll(async () => {
    db = await createConflictTestDatabase('conflict_convergence');
    observer = await db.dataSource(2);
  });
  afterAll(() => db.close());

  async function replicas(): Promise<SimReplica[]> {
    const out: SimReplica[] = [];
    // Group commit and direct commit side by side.
    const modes = ['group', 'group', 'direct'] as const;
    for (const [i, commitMode] of modes.entries()) {
      const ds = await db.dataSource(8);
      out.push({ name: `replica-${i}`, service: new ConflictService(ds, { commitMode, snapshotEvery: 50 }), kill: () => ds.destroy() });
    }
    return out;
  }

  async function checkServer(session: string, docId: string, report: SimulationReport): Promise<void> {
    const ops = (await observer.query(`SELECT version::int AS version, op, client_id, seq::int AS seq FROM doc_ops WHERE session_id = $1 AND doc_id = $2 ORDER BY version`, [
      session,
      docId,
    ])) as Array<{ version: number; op: TextOp; client_id: string; seq: number }>;
    const head = (await observer.query(`SELECT version::int AS version, content_version::int AS content_version, content FROM documents WHERE session_id = $1 AND doc_id = $2`, [
      session,
      docId,
    ])) as Array<{ version: number; content_version: number; content: string }>;
    // Versions 1..N, no gap, no duplicate.
    expect(ops.map((o) => o.version)).toEqual(Array.from({ length: ops.length }, (_, i) => i + 1));
    expect(head[0].version).toBe(ops.length);
    // Replaying the log from "" gives the stored checkpoint at its version (fewer than snapshotEvery ops behind
    // the head) and the head text, which is what open_document serves (checkpoint + the ops after it).
    let text = '';
    let checkpoint: string | undefined = head[0].content_version === 0 ? '' : undefined;
    for (const o of ops) {
      const applied = applyOp(text, o.op, { maxDocLength: Number.MAX_SAFE_INTEGER });
      if (!applied.ok) throw new Error(`op ${o.version} does not apply: ${applied.error.message}`);
      text = applied.doc;
      if (o.version === head[0].content_version) checkpoint = text;
    }
    expect(head[0].content).toBe(checkpoint);
    expect(head[0].version - head[0].content_version).toBeLessThan(50);
    await expect(readHeadText(observer, session, docId)).resolves.toMatchObject({ version: head[0].version, content: text });
    // Every client converged on the server's text.
    for (const c of report.clients) {
      expect({ id: c.id, version: c.version, text: c.text }).toEqual({ id: c.id, version: head[0].version, text });
    }
    // No acknowledged op lost: each ack names the version its (client_id, seq) really has; none committed twice.
    const byKey = new Map(ops.map((o) => [`${o.client_id}/${o.seq}`, o.version]));
    expect(byKey.size).toBe(ops.length);
    let acked = 0;
    for (const c of report.clients) {
      for (const [seq, version] of c.acked) {
        acked += 1;
        expect(byKey.get(`${c.id}/${seq}`)).toBe(version);
      }
    }
    // Every op a client ever sent was acknowledged exactly once and is in the log.
    expect(acked).toBe(ops.length);
  }

  it('20 writers x 40 edits converge; versions gap-free; no acked op lost; none applied twice', async () => {
    const session = randomUUID();
    const report = await simulateEditing({
      sessionId: session,
      docId: 'src/hot.rs',
      replicas: await replicas(),
      clients: 20,
      editsPerClient: 40,
      maxEditDelayMs: 4,
      maxNetworkDelayMs: 4,
      seed: 1,
    });
    await checkServer(session, 'src/hot.rs', report);
    expect(report.conflicts).toBeGreaterThan(0);
  });

  it('20 writers x 200 edits survive a replica killed mid-run: resends are deduped, never applied twice', async () => {
    const session = randomUUID();
    const report = await simulateEditing({
      sessionId: session,
      docId: 'src/kill.rs',
      replicas: await replicas(),
      clients: 20,
      editsPerClient: 200,
      maxEditDelayMs: 8,
      maxNetworkDelayMs: 4,
      seed: 2,
      killFirstReplicaAfter: 60,
    });
    await checkServer(session, 'src/kill.rs', report);
    expect(report.resends).toBeGreaterThan(0);
    // Each lost answer was resent and answered as a duplicate (the op had committed), never committed again.
    expect(report.duplicates).toBeGreaterThanOrEqual(report.lostAnswers);
  });
});
